package archive

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/record/auditchain"
	"github.com/spanvault/spanvault/sync/wire"
)

// VerifyReport says what Verify checked and found.
type VerifyReport struct {
	Objects    int
	Appliances int
	Events     int
	Classical  int // recordings whose file key is wrapped to classical (X25519) recipients only
	Ledgers    int // coverage ledgers checked against the archive's holdings (CheckLedgers)
	Problems   []string
}

// Verify re-hashes every stored recording against its address, checks each
// box's stored audit chain link by link up to its anchored head, and the
// archive's own trail against the anchor log and its signed checkpoints,
// with the accesses and requests it records (CheckTrail), and the
// archive's holdings against the boxes' coverage ledgers (CheckLedgers). Problems are
// also alerts.
func (a *Archive) Verify(ctx context.Context) (*VerifyReport, error) {
	rep := &VerifyReport{}
	rs, err := a.Index.Records(ctx, index.Query{Kind: wire.KindRecording})
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		if !r.DeletedAt.IsZero() {
			continue
		}
		rc, _, err := a.Store.Open(ctx, r.SHA256)
		if err != nil {
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s/%s: %v", r.Appliance, r.ID, err))
			continue
		}
		// (A re-sealed object: its payload after the box's header; reseal.go.)
		got, classical, err := a.rehash(ctx, r.SHA256, rc)
		rc.Close()
		if err != nil || got != r.SHA256 {
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s/%s: stored object hashes to %s, not %s%s", r.Appliance, r.ID, got, r.SHA256, errSuffix(err)))
			continue
		}
		rep.Objects++
		if classical {
			rep.Classical++
		}
	}
	aps, err := a.Index.Appliances(ctx)
	if err != nil {
		return nil, err
	}
	for _, ap := range aps {
		rep.Appliances++
		prev := ""
		for seq := uint64(1); seq <= ap.AnchoredSeq; seq++ {
			e, ok, err := a.Index.AuditAt(ctx, ap.Name, seq)
			if err != nil {
				return nil, err
			}
			var ae auditchain.Entry
			if !ok || json.Unmarshal([]byte(e.Entry), &ae) != nil || ae.SelfHash() != ae.Hash || ae.Prev != prev {
				rep.Problems = append(rep.Problems, fmt.Sprintf("%s: stored audit entry %d missing or altered", ap.Name, seq))
				break
			}
			prev = ae.Hash
		}
		if ap.AnchoredSeq > 0 && prev != ap.AnchoredHash && len(rep.Problems) == 0 {
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s: stored chain does not end at the anchored head", ap.Name))
		}
	}
	n, ps, err := a.CheckTrail(ctx)
	if err != nil {
		return nil, err
	}
	rep.Problems = append(rep.Problems, ps...)
	rep.Events = n
	if rep.Ledgers, ps, err = a.CheckLedgers(ctx); err != nil {
		return nil, err
	}
	rep.Problems = append(rep.Problems, ps...)
	for _, p := range rep.Problems {
		a.Event(ctx, "verify_failed", "verify", "", p, true)
	}
	return rep, nil
}

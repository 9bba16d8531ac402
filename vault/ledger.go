package vault

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"go.etcd.io/bbolt"

	"github.com/spanvault/spanvault/record/ledger"
	"github.com/spanvault/spanvault/vault/audit"
)

// LedgerStatus is an entry's status and reason in the coverage ledger:
// it follows the entry's state (a truncated recording is incomplete, a
// call detail record not recorded), and a recording the box wrote whole is
// still incomplete when its completeness record says the capture missed
// packets that crossed the mirrored wire (record.Completeness).
func LedgerStatus(e *Entry) (status, reason string) {
	switch e.State {
	case StateComplete:
		if e.Completeness.IncompleteByUs() {
			return ledger.StatusIncomplete, fmt.Sprintf("recorded incomplete by us: the capture missed %d packets that crossed the wire", e.Completeness.LostCapture)
		}
		return ledger.StatusComplete, ""
	case StateTruncated:
		return ledger.StatusIncomplete, "truncated"
	case StateRecording:
		return ledger.StatusIncomplete, "still being written when the day was sealed"
	case StateErased:
		return ledger.StatusErased, ""
	case StateCDR:
		r := "call detail record only"
		if e.Note != "" {
			r += ": " + e.Note
		}
		return ledger.StatusNotRecorded, r
	}
	return ledger.StatusIncomplete, "state " + e.State
}

// LedgerLine is the line an entry is counted under: the extension
// pattern its branch party matched (Entry.Line); "" (no extensions
// configured, an external call, an entry written before lines were kept)
// is counted under "*".
func LedgerLine(e *Entry) string { return e.Line }

// LedgerMetaKey is the sync meta key (SyncMeta) the ledger of day is
// kept under until the archive acknowledges it; the sync client then
// empties it.
func LedgerMetaKey(day string) string { return "ledger/" + day }

func ledgerKey(day string) string { return LedgerMetaKey(day) }

// SealLedger returns the box's signed coverage ledger of day (YYYY-MM-DD,
// UTC): every dialog that started that day, from its index entry or, once
// deleted, its tombstone. The first call makes, signs and keeps it (and
// audits it); later calls return the same bytes, so that a ledger whose
// acknowledgement was lost is sent again unchanged.
func (v *Vault) SealLedger(appliance, day string) (*ledger.Signed, error) {
	if b, err := v.SyncMeta(ledgerKey(day)); err != nil {
		return nil, err
	} else if len(b) > 0 {
		var s ledger.Signed
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, fmt.Errorf("vault: ledger of %s kept: %w", day, err)
		}
		return &s, nil
	}
	if v.key == nil {
		return nil, fmt.Errorf("vault: no appliance key: cannot sign a ledger (read-only open)")
	}
	start, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return nil, fmt.Errorf("vault: ledger day %q: %w", day, err)
	}
	end := start.Add(24 * time.Hour)
	in := func(t time.Time) bool { return !t.Before(start) && t.Before(end) }
	es, err := v.List()
	if err != nil {
		return nil, err
	}
	l := &ledger.Ledger{Version: ledger.Version, Appliance: appliance, Day: day, Made: v.opt.Now().UTC()}
	listed := map[string]bool{}
	for _, e := range es {
		if !in(e.Start) {
			continue
		}
		st, why := LedgerStatus(e)
		it := ledger.Item{ID: e.ID, Line: LedgerLine(e), Answered: !e.Answer.IsZero(), Recorded: e.Recorded && e.SHA256 != "", Status: st, Reason: why}
		if it.Recorded {
			it.SHA256, it.Size = e.SHA256, e.Size
		}
		l.Items = append(l.Items, it)
		listed[e.ID] = true
	}
	ts, err := v.Tombstones()
	if err != nil {
		return nil, err
	}
	for _, t := range ts {
		if !in(t.Start) || listed[t.ID] {
			continue
		}
		st := ledger.StatusRemoved
		if t.KindOf() == TombstoneErased {
			st = ledger.StatusErased
		}
		it := ledger.Item{ID: t.ID, Line: t.Line, Recorded: t.SHA256 != "", SHA256: t.SHA256, Status: st, Reason: t.Reason}
		l.Items = append(l.Items, it)
		listed[t.ID] = true
	}
	sort.Slice(l.Items, func(i, j int) bool { return l.Items[i].ID < l.Items[j].ID })
	l.Count()
	s, err := ledger.Sign(l, v.key)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	detail := fmt.Sprintf("coverage ledger of %s: %d dialogs, sha256 %s", day, len(l.Items), ledger.Hash(s.Ledger))
	err = v.update(func(tx *bbolt.Tx) error {
		if err := tx.Bucket(bSync).Put([]byte("m/"+ledgerKey(day)), b); err != nil {
			return err
		}
		return v.audit(tx, audit.Entry{Action: "ledger_sealed", Actor: "vault", Detail: detail})
	})
	if err != nil {
		return nil, fmt.Errorf("vault: keeping the ledger of %s: %w", day, err)
	}
	return s, nil
}

package archive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/record/evidence"
	"github.com/spanvault/spanvault/record/ledger"
	"github.com/spanvault/spanvault/sync/wire"
)

// Timestamper asks a time-stamping authority (RFC 3161) for a token over
// a SHA-256 digest (an evidence bundle's checkpoint section).
type Timestamper func(ctx context.Context, digest [32]byte) ([]byte, error)

// ErrNoEvidence: the archive cannot prove the recording yet (or any
// more): no ledger of its day, not anchored with it, erased.
var ErrNoEvidence = errors.New("archive: no evidence can be made")

// maxEvidenceRecording bounds the recording an evidence bundle carries
// (read into memory whole).
const maxEvidenceRecording = 1 << 30

// Evidence writes the evidence bundle (record/evidence) of a box's
// recording: the sealed recording and its index record, the box's
// coverage ledger of its day, their inclusion proofs and that of the
// box's newest audit head in the anchor log under a checkpoint signed
// now, and, with ts, an RFC 3161 token over that checkpoint. The caller
// audits who asked (the export is an access).
func (a *Archive) Evidence(ctx context.Context, box, id string, ts Timestamper) ([]byte, error) {
	rs, err := a.Index.Records(ctx, index.Query{Appliance: box, ID: id, Kind: wire.KindRecording})
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return nil, fmt.Errorf("%w: no recording %s from %s", ErrNoEvidence, id, box)
	}
	r := rs[0]
	if !r.DeletedAt.IsZero() {
		return nil, fmt.Errorf("%w: recording %s from %s was erased", ErrNoEvidence, id, box)
	}
	if r.Size > maxEvidenceRecording {
		return nil, fmt.Errorf("archive: recording %s of %d bytes, more than an evidence bundle carries (%d)", id, r.Size, maxEvidenceRecording)
	}
	rc, _, err := a.Store.Open(ctx, r.SHA256)
	if err != nil {
		return nil, fmt.Errorf("archive: recording %s: %w", id, err)
	}
	rec, err := io.ReadAll(io.LimitReader(rc, maxEvidenceRecording+1))
	rc.Close()
	if err != nil {
		return nil, fmt.Errorf("archive: recording %s: %w", id, err)
	}
	if s := sha256.Sum256(rec); hex.EncodeToString(s[:]) != r.SHA256 {
		return nil, fmt.Errorf("%w: the stored object of %s no longer hashes to its address (re-sealed, or damaged: see verify)", ErrNoEvidence, id)
	}
	day := r.Start.UTC().Format(time.DateOnly)
	hl, ok, err := a.Index.LedgerOf(ctx, box, day)
	if err != nil {
		return nil, err
	}
	if !ok || hl.AnchorN < 0 {
		return nil, fmt.Errorf("%w: %s has not sent its coverage ledger of %s yet (boxes send it the night after)", ErrNoEvidence, box, day)
	}
	var sl wire.LedgerUpload
	if err := json.Unmarshal(hl.Signed, &sl); err != nil {
		return nil, fmt.Errorf("archive: ledger of %s %s: %w", box, day, err)
	}
	recN, ok, err := a.Log.Find(ctx, RecordingName(box), ledger.RecordingText(box, id, r.SHA256, ledger.Hash([]byte(r.Entry))))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: recording %s is not in the anchor log with its ledger (it arrived after the ledger of %s)", ErrNoEvidence, id, day)
	}
	head, ok, err := a.Log.Last(ctx, box)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: no audit head of %s in the anchor log", ErrNoEvidence, box)
	}
	cp, err := a.checkpoint(ctx)
	if err != nil {
		return nil, err
	}
	prove := func(n int64) (evidence.Proof, error) {
		p, err := a.Log.ProveRecord(ctx, cp.Size, n)
		if err != nil {
			return evidence.Proof{}, fmt.Errorf("archive: proving log record %d: %w", n, err)
		}
		return evidence.Proof{Index: n, Hashes: []tlog.Hash(p)}, nil
	}
	b := &evidence.Bundle{Checkpoint: cp.Note, LogKey: a.Log.VerifierKey(), Recording: rec, Entry: []byte(r.Entry),
		Ledger: sl.Ledger, LedgerKey: sl.Key, LedgerSignature: sl.Signature, Head: head.Text}
	if b.RecordingProof, err = prove(recN); err != nil {
		return nil, err
	}
	if b.LedgerProof, err = prove(hl.AnchorN); err != nil {
		return nil, err
	}
	if b.HeadProof, err = prove(head.N); err != nil {
		return nil, err
	}
	if ts != nil {
		if b.Timestamp, err = ts(ctx, sha256.Sum256(cp.Note)); err != nil {
			return nil, fmt.Errorf("archive: time-stamping authority: %w", err)
		}
	}
	return b.Marshal(), nil
}

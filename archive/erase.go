package archive

import (
	"context"
	"errors"
	"fmt"

	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/archive/store"
	"github.com/spanvault/spanvault/sync/wire"
)

// maxRefusalsPerReply bounds the refused erasures one check-in reply
// carries (the rest follow in the next replies).
const maxRefusalsPerReply = 1000

// holds says why the archive keeps a record whatever a box erased: a
// legal hold at the archive, or a class under a legal retention duty
// (legal_retention) before its date (GDPR Art. 17(3)(b)). "" if neither.
func (a *Archive) holds(r index.Record) string {
	if r.Hold {
		return "on legal hold at the archive"
	}
	if a.Config.lockMode(r.Class) == store.Compliance && a.Now().Before(r.RetainUntil) {
		return fmt.Sprintf("class %s is under a legal retention duty until %s (GDPR Art. 17(3)(b))", r.Class, r.RetainUntil.UTC().Format("2006-01-02"))
	}
	return ""
}

// eraseCopy applies a GDPR Art. 17 erasure of box name's recording id to
// the archive's copy, the same whoever erased: the box (its DPO, its API:
// the erasure's tombstone) or the archive (an erase command the box
// applied). by names who erased. tomb is the tombstone to keep, with the
// subject's sealed minimum for Art. 15 where the box sent it.
//
// Unless the archive holds the recording, it writes the write-once
// erasure note first (a crash after it is replayed at the next start),
// erases the object (crypto-shredding on locked storage), and marks the
// index erased under tomb. When the store's erasure fails other than by
// refusing (a hold or legal lock on the object: then nothing is marked),
// the index is marked all the same (the recording unreachable at once),
// the erasure left pending in the store is alerted (erasure_pending) with
// the reason, and the replay tries it again at every start. When the archive holds it (holds), the copy
// stays: the tombstone is kept as a refused erasure, the DPO is alerted,
// the box is told in its next check-in reply, and refused says why.
func (a *Archive) eraseCopy(ctx context.Context, name, id, by string, tomb index.Record) (refused string, err error) {
	rs, err := a.Index.Records(ctx, index.Query{Appliance: name, ID: id})
	if err != nil {
		return "", err
	}
	var live []index.Record
	prior := ""
	for _, r := range rs {
		if r.Kind == wire.KindTombstone {
			prior = r.Tombstone
			continue
		}
		if tomb.Start.IsZero() {
			tomb.Start, tomb.Class = r.Start, r.Class
		}
		if !r.DeletedAt.IsZero() {
			continue // erased already (a repeated tombstone or command)
		}
		if why := a.holds(r); why != "" && refused == "" {
			refused = why
		}
		live = append(live, r)
	}
	now := a.Now()
	tomb.Appliance, tomb.ID, tomb.Kind = name, id, wire.KindTombstone
	if tomb.ReceivedAt.IsZero() {
		tomb.ReceivedAt = now
	}
	if tomb.DeletedAt.IsZero() {
		tomb.DeletedAt = now
	}
	if refused != "" && prior == index.TombstoneRefused {
		return refused, nil // refused, alerted and told before: a repeated tombstone
	}
	if refused != "" {
		tomb.Tombstone = index.TombstoneRefused
		if err := a.Index.PutRecords(ctx, []index.Record{tomb}); err != nil {
			return "", err
		}
		if err := a.Index.SetWhy(ctx, name, id, "erasure by "+by+" refused: "+refused); err != nil {
			return "", err
		}
		if err := a.Index.RefuseErasure(ctx, index.ErasureRefusal{Appliance: name, ID: id, Reason: refused, RefusedAt: now}); err != nil {
			return "", err
		}
		a.Event(ctx, "erasure_refused", by, name, fmt.Sprintf("%s: erasure refused, the archive keeps its copy: %s", id, refused), true)
		return refused, nil
	}
	type failed struct {
		n   store.Erasure
		err error
	}
	var pending []failed
	for _, r := range live {
		if r.Kind != wire.KindRecording {
			continue
		}
		// The note first: a crash after it replays the erasure at the
		// next start; the other order could forget it.
		n := store.Erasure{SHA256: r.SHA256, Appliance: name, ID: r.ID, At: now, By: by}
		if err := a.noteErasure(ctx, n); err != nil {
			a.Event(ctx, "erase_at_archive_refused", by, name, fmt.Sprintf("%s: %v", r.ID, err), true)
			return "", fmt.Errorf("archive: erasing %s: %w", r.ID, err)
		}
		if err := a.eraseObject(ctx, r.SHA256, now); err != nil && !errors.Is(err, store.ErrNotFound) {
			if storeRefused(err) {
				a.Event(ctx, "erase_at_archive_refused", by, name, fmt.Sprintf("%s: %v", r.ID, err), true)
				return "", fmt.Errorf("archive: erasing %s: %w", r.ID, err)
			}
			// Noted: unreachable below, the store's erasure pending.
			pending = append(pending, failed{n, err})
		}
	}
	tomb.Tombstone = index.TombstoneErased
	if err := a.Index.PutRecords(ctx, []index.Record{tomb}); err != nil {
		return "", err
	}
	for _, p := range pending {
		a.storePending(ctx, "erasure_pending", by, p.n, p.err)
	}
	if len(live) > 0 {
		if err := a.Index.SetWhy(ctx, name, id, "erased by "+by); err != nil {
			return "", err
		}
		a.Event(ctx, "erased_at_archive", by, name, id, false)
	}
	return "", nil
}

// ingestTombstone takes a box's tombstone (records calls it before
// indexing row). A removal only notes that the box let its copy go; an
// erasure is applied to the archive's copy (eraseCopy) before the
// tombstone is acknowledged, and row then carries what became of it.
func (a *Archive) ingestTombstone(ctx context.Context, name string, rec *wire.Record, row *index.Record) error {
	row.Tombstone = index.TombstoneRemoved
	if rec.TombstoneKind() != wire.TombstoneErased {
		return nil
	}
	t := rec.Entry.Tombstone
	if t == nil {
		return fmt.Errorf("archive: tombstone %s from %s: no tombstone entry", rec.ID, name)
	}
	by := "box " + name
	if t.By != "" && len(t.By) <= 128 {
		by = t.By + " on box " + name
	}
	refused, err := a.eraseCopy(ctx, name, rec.ID, by, *row)
	if err != nil {
		return err
	}
	row.Tombstone = index.TombstoneErased
	if refused != "" {
		row.Tombstone = index.TombstoneRefused
	}
	return nil
}

// refusalsFor takes the refused erasures box name has not been told of
// yet, for its check-in reply, and marks them told.
func (a *Archive) refusalsFor(ctx context.Context, name string) ([]wire.RefusedErasure, error) {
	rs, err := a.Index.ErasureRefusals(ctx, name, true)
	if err != nil || len(rs) == 0 {
		return nil, err
	}
	rs = rs[:min(len(rs), maxRefusalsPerReply)]
	out := make([]wire.RefusedErasure, len(rs))
	ids := make([]string, len(rs))
	for i, r := range rs {
		out[i], ids[i] = wire.RefusedErasure{ID: r.ID, Reason: r.Reason}, r.ID
	}
	return out, a.Index.ToldRefusals(ctx, name, ids, a.Now())
}

package archive

import (
	"context"
	"time"

	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/archive/store"
	"github.com/spanvault/spanvault/sync/wire"
)

// keepUntil is the date a new record id of the object sum keeps when the
// store holds a later date (in) than the record asks for (want). A
// COMPLIANCE date, or a held object's, stays: the store cannot shorten
// the one, and the archive keeps the other. A GOVERNANCE date beyond the
// provisional lock came from an upload's claim (lockatput.go) or from
// another record of the object: it is shortened to the latest date any
// live record of the object requires, never below the provisional lock,
// so that a box claiming a longer class at upload than in its record does
// not have the archive keep (and pay for) the object longer.
func (a *Archive) keepUntil(ctx context.Context, id, sum string, in store.Info, want store.Retention) (time.Time, error) {
	if in.LockMode == store.Compliance || want.Hold {
		return in.RetainUntil, nil
	}
	floor := want.Until
	if p := a.provisionalUntil(); p.After(floor) {
		floor = p
	}
	if !in.RetainUntil.After(floor.Truncate(time.Second).Add(time.Second)) {
		return in.RetainUntil, nil // the provisional lock, or no later than the record's: as it is
	}
	rs, err := a.Index.Records(ctx, index.Query{SHA256: sum, Kind: wire.KindRecording})
	if err != nil {
		return time.Time{}, err
	}
	for _, r := range rs {
		if r.ID != id && r.DeletedAt.IsZero() && r.RetainUntil.After(floor) {
			floor = r.RetainUntil
		}
	}
	if in.RetainUntil.Before(floor) {
		return in.RetainUntil, nil
	}
	return floor, nil
}

// provisionalUntil is the latest date the store's provisional lock gives
// an object written now (zero for a store without one). The store sets
// it by its own clock, so it is read from the wall clock here too.
func (a *Archive) provisionalUntil() time.Time {
	if s, ok := a.Store.(*store.S3); ok {
		return time.Now().Add(s.Provisional)
	}
	return time.Time{}
}

// eraseObject crypto-shreds the object sum of a recording the archive
// has decided to erase (eraseCopy, or an erasure note replayed). The
// index decides, not the payload's lock: unless another live record of
// the object is held or under a legal retention duty (holds), the header
// (the wrapped file key, always GOVERNANCE) is removed whatever mode the
// payload's lock has (a COMPLIANCE lock an older archive set from a box's
// claim at upload, or a class that left legal_retention); the payload
// stays locked until its date. Where another record keeps the object, the
// store's own erasure decides, refusing under COMPLIANCE as before.
func (a *Archive) eraseObject(ctx context.Context, sum string, now time.Time) error {
	sh, ok := a.Store.(store.Shredder)
	if !ok {
		return a.Store.Erase(ctx, sum, now)
	}
	rs, err := a.Index.Records(ctx, index.Query{SHA256: sum, Kind: wire.KindRecording})
	if err != nil {
		return err
	}
	for _, r := range rs {
		if r.DeletedAt.IsZero() && a.holds(r) != "" {
			return a.Store.Erase(ctx, sum, now)
		}
	}
	return sh.Shred(ctx, sum)
}

package archive

import (
	"context"
	"fmt"

	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/archive/store"
	"github.com/spanvault/spanvault/sync/wire"
)

// Ownership at ingest. An object (a sealed file, by its SHA-256) belongs
// to the box whose upload completed it first (index.ClaimObject): only
// that box may name it in a record, sees it in HEAD, or is told it is
// complete. A box that names, or uploads, an object another box owns is
// refused (409 for an upload, an ack error for a record), audited and
// alerted. Identical bytes from two boxes do not happen honestly (every
// sealed file has its own random file key), so a second box's upload of
// an owned object is a copy of the first's and is refused the same way:
// it never gives the second box a record, or the people scoped to it
// access, of the first box's call. An object held with no owner (an
// upload completed before owners were kept, whose record never came) is
// taken by the first box that uploads its bytes again whole.
//
// Store retention and legal hold follow the archive's own decisions: a
// new record's object gets the archive's class retention from its start,
// never shorter than the store already holds (but for a GOVERNANCE date
// an upload's claim set beyond what the records need: keepUntil), and a
// hold only where the
// archive holds it (a hold command, or another record of the object on
// hold); nothing a box's record says lowers a date, clears a hold or
// changes the mode. A repeated record changes nothing.

// RefuseOwned is the text of a refused claim on another box's object.
const RefuseOwned = "belongs to another appliance"

// ownershipConflict audits and alerts a claim by name on an object owner
// holds, and returns what the box is told (not the owner's name).
func (a *Archive) ownershipConflict(ctx context.Context, name, owner, sum, what string) string {
	a.Event(ctx, "ownership_conflict", name, name, fmt.Sprintf("%s %s object %s, which %s uploaded: refused", name, what, sum, owner), true)
	return fmt.Sprintf("object %s %s: refused", sum, RefuseOwned)
}

// admitRecording checks a recording record of name against ownership and
// the store, and sets the object's retention and hold by the archive's
// rules; row gets the hold that applies. f is what the index says of it
// (index.AdmitFacts, taken for the whole batch). It returns the ack's
// error, or "".
func (a *Archive) admitRecording(ctx context.Context, name string, rec *wire.Record, row *index.Record, f index.AdmitFact) string {
	owner := f.Owner
	if owner != name && owner != "" {
		return a.ownershipConflict(ctx, name, owner, rec.SHA256, "named in record "+rec.ID)
	}
	if owner == "" {
		return fmt.Sprintf("object %s not uploaded by this appliance (0 of %d bytes)", rec.SHA256, rec.Size)
	}
	in, err := a.Store.Stat(ctx, rec.SHA256)
	if err != nil {
		return err.Error()
	}
	if !in.Complete || in.Size != rec.Size {
		return fmt.Sprintf("object %s not held whole (%d of %d bytes)", rec.SHA256, in.Offset, rec.Size)
	}
	if f.Repeat {
		row.Hold = f.RepeatHold
		return "" // a repeat: the index keeps the first, the store is left as it is
	}
	// The archive holds the object: another record of it is on hold, or
	// the archive's last hold or release command for the recording was a
	// hold (issued before the record arrived).
	held := f.ObjectHeld || f.HoldCommanded
	want := store.Retention{Until: row.RetainUntil, Hold: held || in.Hold, Mode: a.Config.lockMode(rec.Class)}
	if in.RetainUntil.After(want.Until) {
		if want.Until, err = a.keepUntil(ctx, rec.ID, rec.SHA256, in, want); err != nil {
			return err.Error()
		}
	}
	if in.LockMode == store.Compliance {
		want.Mode = store.Compliance
	}
	row.Hold = want.Hold
	if want.Until.Equal(in.RetainUntil) && want.Hold == in.Hold && want.Mode == in.LockMode {
		return ""
	}
	if err := a.Store.SetRetention(ctx, rec.SHA256, want); err != nil {
		return err.Error()
	}
	return ""
}

package wire

import "fmt"

// Tombstone kinds (Record.Tombstone). They differ in who may act on what
// (sync/doc.go, "Tombstones"):
//
//   - TombstoneRemoved: the box no longer holds its copy (retention after
//     the archive's acknowledgement, the class's maximum age on the box,
//     quota eviction, fsck finding the file gone). The archive notes it
//     and keeps serving its own copy under its own class and holds.
//   - TombstoneErased: a GDPR Art. 17 erasure on the box (its DPO, its
//     API, or an erase command from the archive). The archive erases its
//     own copy too, unless it holds the recording (a legal hold at the
//     archive, or a class under a legal retention duty), which it then
//     says in CheckInReply.RefusedErasures.
//
// A tombstone without a kind (a box older than the kinds) is a removal,
// never an erasure; any other kind is refused.
const (
	TombstoneRemoved = "removed"
	TombstoneErased  = "erased"
)

// TombstoneKind is the kind a valid tombstone stands for: an empty kind
// is a removal.
func (r *Record) TombstoneKind() string {
	if r.Tombstone == "" {
		return TombstoneRemoved
	}
	return r.Tombstone
}

func (r *Record) validateTombstone() error {
	if r.Kind != KindTombstone {
		if r.Tombstone != "" {
			return fmt.Errorf("record %s: a %s record has no tombstone kind (got %q)", r.ID, r.Kind, r.Tombstone)
		}
		return nil
	}
	switch r.Tombstone {
	case "", TombstoneRemoved, TombstoneErased:
		return nil
	}
	return fmt.Errorf("record %s: unknown tombstone kind %q (removed or erased)", r.ID, r.Tombstone)
}

// RefusedErasure tells a box that the archive did not apply one of its
// erasures to the archive's copy, and why (a legal hold at the archive, a
// legal retention duty). The box audits it; its own copy is gone already.
type RefusedErasure struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

package vault

import (
	"strings"

	"github.com/spanvault/spanvault/vault/audit"
)

// Tombstone kinds. The sync protocol carries them to the archive, which
// treats them differently (sync/doc.go): a removal leaves the archive's
// copy to the archive's own class and holds; an erasure erases it there
// too, unless the archive holds it.
const (
	// TombstoneRemoved: the box let its copy go (the grace period after
	// the archive's acknowledgement, the class's maximum age, quota
	// eviction, a file fsck found missing).
	TombstoneRemoved = "removed"
	// TombstoneErased: a GDPR Art. 17 erasure (Erase, EraseSubject, the
	// box API, an erase command from the archive).
	TombstoneErased = "erased"
)

// KindOf is the tombstone's kind. A tombstone written before kinds were
// recorded is an erasure when its reason says so (Erase writes "erasure"
// or "erasure: ..."), a removal otherwise.
func (t *Tombstone) KindOf() string {
	switch {
	case t.Kind != "":
		return t.Kind
	case t.Reason == "erasure" || strings.HasPrefix(t.Reason, "erasure: "):
		return TombstoneErased
	}
	return TombstoneRemoved
}

// tombstoneKind is the kind of tombstone a removal leaves: only Erase's
// are erasures.
func (r removal) tombstoneKind() string {
	if r.action == audit.Erasure {
		return TombstoneErased
	}
	return TombstoneRemoved
}

package record

import (
	"strings"
	"time"
)

// Tombstone is what remains of an erased or expired recording: enough to
// prove what was deleted, when, why and by whom, without the recording.
type Tombstone struct {
	ID        string    `json:"id"`
	Start     time.Time `json:"start"`
	Class     string    `json:"class"`
	DeletedAt time.Time `json:"deleted_at"`
	Reason    string    `json:"reason"`
	By        string    `json:"by"`
	SHA256    string    `json:"sha256,omitempty"`
	Synced    bool      `json:"synced"`
	// Subject is sealed (numbers only) so that a subject report can list
	// deletions; the box itself cannot read it.
	Subject []byte `json:"subject,omitempty"`
	// SealedReason is an erasure's free-text reason, sealed (Reason then
	// says only "erasure").
	SealedReason []byte `json:"sealed_reason,omitempty"`
	// Kind says what the deletion was: TombstoneRemoved (retention,
	// quota: the box let its copy go) or TombstoneErased (GDPR Art. 17).
	// Empty in tombstones written before it (see KindOf).
	Kind string `json:"kind,omitempty"`
	// Line is the deleted entry's (Entry.Line), for the coverage ledger.
	Line string `json:"line,omitempty"`
}

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

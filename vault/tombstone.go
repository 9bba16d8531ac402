package vault

import (
	"github.com/spanvault/spanvault/record"
	"github.com/spanvault/spanvault/vault/audit"
)

// Tombstone kinds (record.TombstoneRemoved, record.TombstoneErased).
const (
	TombstoneRemoved = record.TombstoneRemoved
	TombstoneErased  = record.TombstoneErased
)

// tombstoneKind is the kind of tombstone a removal leaves: only Erase's
// are erasures.
func (r removal) tombstoneKind() string {
	if r.action == audit.Erasure {
		return TombstoneErased
	}
	return TombstoneRemoved
}

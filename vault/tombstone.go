package vault

import (
	"encoding/json"
	"sort"

	bolt "go.etcd.io/bbolt"

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

// Tombstones lists what was deleted.
func (v *Vault) Tombstones() ([]Tombstone, error) {
	var out []Tombstone
	err := v.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bTombstones).ForEach(func(k, val []byte) error {
			var t Tombstone
			if err := json.Unmarshal(val, &t); err != nil {
				return err
			}
			out = append(out, t)
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].DeletedAt.Before(out[j].DeletedAt) })
	return out, err
}

package vault

// Acknowledgement: the archive holds a recording.

import (
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/spanvault/spanvault/vault/audit"
)

// Acknowledge records that the archive holds a recording (the sync
// client calls it after the archive confirms). Retention then counts the
// class's grace period from at.
func (v *Vault) Acknowledge(id string, at time.Time) error {
	err := v.update(func(tx *bolt.Tx) error {
		old, err := getEntry(tx, id)
		if err != nil {
			return err
		}
		e := *old
		e.Sync = SyncAcked
		e.AckedAt = at.UTC()
		cl, _ := v.policy().Class(e.Class)
		if g := at.Add(time.Duration(cl.Grace)); e.Expiry.IsZero() || g.Before(e.Expiry) {
			e.Expiry = g
		}
		if err := putEntry(tx, &e, old); err != nil {
			return err
		}
		return v.audit(tx, audit.Entry{Action: audit.SyncAck, Actor: "sync", Recording: id})
	})
	v.changed()
	return err
}

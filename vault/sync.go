package vault

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/spanvault/spanvault/vault/audit"
)

// What the sync client needs of the vault. Nothing here decrypts: the box
// sends what it holds as it holds it.

// PendingSync returns up to limit index entries the archive has not yet
// acknowledged: finished recordings (complete or truncated) and call
// detail records, oldest first. Recordings in progress are not included.
func (v *Vault) PendingSync(limit int) ([]*Entry, error) {
	es, err := v.List()
	if err != nil {
		return nil, err
	}
	var out []*Entry
	for _, e := range es {
		if e.Sync == SyncAcked {
			continue
		}
		switch e.State {
		case StateComplete, StateTruncated, StateCDR:
		default:
			continue
		}
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Sealed returns an entry's sealed metadata and sealed subject minimum,
// as stored (age ciphertext to the archive's recipients).
func (v *Vault) Sealed(id string) (meta, subject []byte, err error) {
	err = v.view(func(tx *bolt.Tx) error {
		meta = bytes.Clone(tx.Bucket(bSealed).Get([]byte(id)))
		subject = bytes.Clone(tx.Bucket(bSubjects).Get([]byte(id)))
		return nil
	})
	return
}

// RecordingPath is the sealed file of a finished recording.
func (v *Vault) RecordingPath(id string) (string, error) {
	if !validID(id) {
		return "", fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	return v.path(id, false), nil
}

var tombKey = func(id string) []byte { return []byte("t/" + id) }

// PendingTombstones lists tombstones the archive has not acknowledged.
func (v *Vault) PendingTombstones() ([]Tombstone, error) {
	ts, err := v.Tombstones()
	if err != nil {
		return nil, err
	}
	var out []Tombstone
	err = v.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bSync)
		for _, t := range ts {
			if b.Get(tombKey(t.ID)) == nil {
				out = append(out, t)
			}
		}
		return nil
	})
	return out, err
}

// AcknowledgeTombstones records that the archive holds these tombstones.
func (v *Vault) AcknowledgeTombstones(ids []string, at time.Time) error {
	return v.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bSync)
		for _, id := range ids {
			if err := b.Put(tombKey(id), []byte(at.UTC().Format(time.RFC3339Nano))); err != nil {
				return err
			}
		}
		return nil
	})
}

// SyncMeta reads a value the sync client keeps in the vault (the last
// verified anchor checkpoint, for instance).
func (v *Vault) SyncMeta(key string) ([]byte, error) {
	var out []byte
	err := v.view(func(tx *bolt.Tx) error {
		out = bytes.Clone(tx.Bucket(bSync).Get([]byte("m/" + key)))
		return nil
	})
	return out, err
}

// SetSyncMeta stores a sync client value durably.
func (v *Vault) SetSyncMeta(key string, val []byte) error {
	return v.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bSync).Put([]byte("m/"+key), val)
	})
}

// AuditHead returns the signed head of the audit chain.
func (v *Vault) AuditHead() (audit.Head, error) {
	var h audit.Head
	err := v.view(func(tx *bolt.Tx) error {
		var err error
		h, err = audit.ReadHead(tx)
		return err
	})
	return h, err
}

// ReleaseRecording lifts every hold that covers only this recording (the
// archive's release command); subject holds stay.
func (v *Vault) ReleaseRecording(id, reason, by string) (int, error) {
	hs, err := v.Holds()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, h := range hs {
		if h.Recording != id {
			continue
		}
		if _, err := v.Release(h.ID, reason, by); err != nil {
			return n, err
		}
		n++
	}
	if n == 0 {
		e, err := v.Get(id)
		if err != nil {
			return 0, err
		}
		if len(e.Holds) > 0 {
			return 0, errors.New("vault: the recording is held by a subject hold, which a recording release does not lift")
		}
	}
	return n, nil
}

// AcknowledgeMany acknowledges several entries in one transaction (one
// fsync for a whole batch of the archive's acks).
func (v *Vault) AcknowledgeMany(ids []string, at time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	err := v.update(func(tx *bolt.Tx) error {
		a, err := audit.Begin(tx, v.key)
		if err != nil {
			return err
		}
		for _, id := range ids {
			old, err := getEntry(tx, id)
			if err != nil {
				return err
			}
			if old.Sync == SyncAcked {
				continue
			}
			e := *old
			e.Sync = SyncAcked
			e.AckedAt = at.UTC()
			if e.State != StateCDR {
				// The local copy may go after the class's grace period; a
				// call record keeps its own expiry.
				cl, _ := v.policy().Class(e.Class)
				if g := at.Add(time.Duration(cl.Grace)); e.Expiry.IsZero() || g.Before(e.Expiry) {
					e.Expiry = g
				}
			}
			if err := putEntry(tx, &e, old); err != nil {
				return err
			}
			if _, err := a.Add(audit.Entry{Time: v.opt.Now(), Action: audit.SyncAck, Actor: "sync", Recording: id}); err != nil {
				return err
			}
		}
		return a.Commit()
	})
	v.changed()
	return err
}

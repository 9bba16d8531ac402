package vault

// Removal: the one path by which recordings leave the vault (quota
// eviction, the retention sweep, erasure), each leaving a tombstone and an
// audit entry. The callers are in evict.go, evictunans.go, sweep.go and
// erase.go; recover.go, quota.go, ack.go, holds.go, tombstone.go and
// read.go hold the rest of a recording's life.

import (
	"bytes"

	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/spanvault/spanvault/vault/audit"
)

// remove deletes one recording: overwrite, fsync and unlink the file,
// drop the sealed metadata, leave a tombstone and an audit entry. It
// refuses recordings on hold.
func (v *Vault) remove(id, reason, by, action string) error {
	if !validID(id) {
		return fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	rm := removal{id: id, reason: reason, by: by, action: action}
	if strings.HasPrefix(reason, "erasure: ") && len(v.opt.Recipients) > 0 {
		// The free text of an erasure is personal: sealed for the
		// archive; the clear index keeps "erasure".
		sealed, err := v.seal(map[string]string{"reason": strings.TrimPrefix(reason, "erasure: ")})
		if err == nil {
			rm.sealedReason = sealed
		}
	}
	errs, err := v.removeMany([]removal{rm})
	if err != nil {
		return err
	}
	return errs[0]
}

// removal is one deletion for removeMany.
type removal struct {
	id, reason, by, action string
	sealedReason           []byte // the free text of an erasure, sealed
}

// removeBatch is how many deletions share one index transaction: a sweep
// over a large vault must not pay one fsync per recording.
const removeBatch = 2000

// removeMany deletes recordings in batches: shred the files, then in one
// transaction per batch write the tombstones and audit entries and drop
// the index records. It returns one error per removal (nil: deleted).
func (v *Vault) removeMany(rs []removal) ([]error, error) {
	errs := make([]error, len(rs))
	for lo := 0; lo < len(rs); lo += removeBatch {
		batch := rs[lo:min(lo+removeBatch, len(rs))]
		berrs := errs[lo : lo+len(batch)]
		// Files first: a crash after shredding leaves an entry whose file
		// is gone, which fsck -repair turns into a tombstone; the other
		// order could leave a file nobody knows about.
		sizes := make([]int64, len(batch))
		err := v.view(func(tx *bolt.Tx) error {
			for i, r := range batch {
				e, err := getEntry(tx, r.id)
				switch {
				case err != nil:
					berrs[i] = err
				case len(e.Holds) > 0:
					berrs[i] = fmt.Errorf("%w: %s", ErrOnHold, r.id)
				case e.State == StateRecording:
					berrs[i] = fmt.Errorf("vault: %s is still being recorded", r.id)
				default:
					sizes[i] = e.Size
					if e.Recorded {
						if err := shred(v.path(r.id, false)); err != nil && !os.IsNotExist(err) {
							berrs[i] = fmt.Errorf("vault: erase %s: %w", r.id, err)
						}
					}
				}
			}
			return nil
		})
		if err != nil {
			return errs, err
		}
		var freed int64
		err = v.update(func(tx *bolt.Tx) error {
			now := v.opt.Now().UTC()
			if v.key == nil {
				return errors.New("vault: no appliance key: cannot audit (read-only open)")
			}
			trail, err := audit.Begin(tx, v.key)
			if err != nil {
				return err
			}
			for i, r := range batch {
				if berrs[i] != nil {
					continue
				}
				old, err := getEntry(tx, r.id)
				if err != nil {
					berrs[i] = err
					continue
				}
				// Keep only the sealed minimum (the numbers, sealed at
				// recording time) so that a subject report can list the
				// deletion; the box cannot read it.
				sealedSubject := bytes.Clone(tx.Bucket(bSubjects).Get([]byte(r.id)))
				ts := Tombstone{ID: r.id, Start: old.Start, Class: old.Class, Line: old.Line, DeletedAt: now, Kind: r.tombstoneKind(), Reason: r.clearReason(), By: r.by,
					SHA256: old.SHA256, Synced: !old.AckedAt.IsZero(), Subject: sealedSubject, SealedReason: r.sealedReason}
				tb, _ := json.Marshal(ts)
				if err := tx.Bucket(bTombstones).Put([]byte(r.id), tb); err != nil {
					return err
				}
				for _, b := range [][]byte{bSubjects, bSealed, bEntries} {
					if err := tx.Bucket(b).Delete([]byte(r.id)); err != nil {
						return err
					}
				}
				if !old.Expiry.IsZero() {
					if err := tx.Bucket(bExpiry).Delete(expiryKey(old.Expiry, r.id)); err != nil {
						return err
					}
				}
				detail := r.clearReason()
				if r.sealedReason != nil {
					detail += " (reason sealed in the tombstone)"
				}
				if _, err := trail.Add(audit.Entry{Time: now, Action: r.action, Actor: r.by, Recording: r.id, Detail: detail}); err != nil {
					return err
				}
				freed += sizes[i]
			}
			return trail.Commit()
		})
		if err != nil {
			return errs, err
		}
		v.mu.Lock()
		v.used -= freed
		v.gen++
		v.mu.Unlock()
	}
	return errs, nil
}

// shred overwrites a file with zeros, fsyncs it and unlinks it.
func shred(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err == nil {
		zero := make([]byte, 64<<10)
		for left := st.Size(); left > 0 && err == nil; {
			n := min(left, int64(len(zero)))
			_, err = f.Write(zero[:n])
			left -= n
		}
	}
	if err == nil {
		err = f.Sync()
	}
	f.Close()
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// clearReason is what the clear index and the audit trail keep of a
// removal's reason: "erasure" when its free text is sealed.
func (r removal) clearReason() string {
	if r.sealedReason != nil {
		return "erasure"
	}
	return r.reason
}

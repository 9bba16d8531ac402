package vault

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"path/filepath"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/spanvault/spanvault/vault/retention"
)

// idTime is the start time a recording ID encodes (milliseconds).
func idTime(id string) (time.Time, bool) {
	b, err := idEncoding.DecodeString(id)
	if err != nil || len(b) != 16 {
		return time.Time{}, false
	}
	ms := binary.BigEndian.Uint64(b[:8]) >> 16
	return time.UnixMilli(int64(ms)).UTC(), true
}

// salvage copies every readable record of the damaged indexes that the
// daemon moved aside (vault.db.damaged-*) into the current index: entries
// with their sealed metadata, tombstones and holds. A record already
// present is left as it is; a page that bbolt cannot read ends that
// bucket's walk (what was read before it is kept). The damaged files stay.
func (v *Vault) salvage(rep *FsckReport) error {
	files, _ := filepath.Glob(filepath.Join(v.dir, "vault.db.damaged-*"))
	for _, f := range files {
		n, err := v.salvageFile(f)
		if err != nil {
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s: %v", filepath.Base(f), err))
		}
		if n > 0 {
			rep.Repaired = append(rep.Repaired, fmt.Sprintf("%s: %d records salvaged", filepath.Base(f), n))
		}
	}
	return nil
}

type salvaged struct{ bucket, key, val []byte }

func (v *Vault) salvageFile(path string) (n int, err error) {
	db, err := openDB(path, true)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var got []salvaged
	for _, name := range [][]byte{bEntries, bSealed, bSubjects, bTombstones, bHolds} {
		func() {
			defer func() { recover() }() // a bad page ends this bucket's walk
			defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
			db.View(func(tx *bolt.Tx) error {
				b := tx.Bucket(name)
				if b == nil {
					return nil
				}
				return b.ForEach(func(k, val []byte) error {
					got = append(got, salvaged{name, bytes.Clone(k), bytes.Clone(val)})
					return nil
				})
			})
		}()
	}
	err = v.update(func(tx *bolt.Tx) error {
		for _, s := range got {
			b := tx.Bucket(s.bucket)
			if b.Get(s.key) != nil {
				continue
			}
			if bytes.Equal(s.bucket, bEntries) {
				var e Entry
				if json.Unmarshal(s.val, &e) != nil || !validID(e.ID) {
					continue
				}
				if err := putEntry(tx, &e, nil); err != nil {
					return err
				}
				n++
				continue
			}
			if err := b.Put(s.key, s.val); err != nil {
				return err
			}
		}
		return nil
	})
	return n, err
}

// reindex gives a sealed file that has no index entry one, from what the
// file shows without the identity (ID, so the start time; size; hash):
// state complete, class the default, to be synced. The personal metadata
// is inside the file (its sealed meta record) for the archive.
func (v *Vault) reindex(id, path string) error {
	start, ok := idTime(id)
	if !ok {
		return fmt.Errorf("%s: not a recording ID", id)
	}
	size, sum, err := hashFile(path)
	if err != nil {
		return err
	}
	class, _ := v.opt.Policy.Class(v.opt.Policy.DefaultClass)
	e := &Entry{ID: id, State: StateComplete, CallState: "unknown", Start: start, Recorded: true, Size: size, SHA256: sum,
		Class: class.Name, Sync: SyncPending, Note: "re-indexed by fsck from its file (the call's metadata is sealed inside it)"}
	e.Expiry = retention.Expiry(class, start)
	if err := v.update(func(tx *bolt.Tx) error { return putEntry(tx, e, nil) }); err != nil {
		return err
	}
	v.mu.Lock()
	v.used += size
	v.mu.Unlock()
	return nil
}

package vault

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
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

// salvage copies every readable record of the damaged indexes moved
// aside (vault.db.damaged-*, by the daemon or by fsck -repair) into the
// current index: entries with their sealed metadata, tombstones and holds.
// The damaged file is read page by page without bbolt and without the
// check that rejected it (readRawIndex), so one bad page loses only what
// it held. A record already present is left as it is; nothing is taken
// back for a recording the current index holds a tombstone of (erased or
// expired since). Each file is salvaged once (noted in the index's meta
// bucket); the damaged files stay.
func (v *Vault) salvage(rep *FsckReport) error {
	files, _ := filepath.Glob(filepath.Join(v.dir, "vault.db.damaged-*"))
	for _, f := range files {
		name := filepath.Base(f)
		if v.salvagedBefore(name) {
			continue
		}
		n, err := v.salvageFile(f)
		if err != nil {
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		rep.Repaired = append(rep.Repaired, fmt.Sprintf("%s: %d records salvaged", name, n))
	}
	return nil
}

func salvageKey(name string) []byte { return []byte("salvaged:" + name) }

func (v *Vault) salvagedBefore(name string) bool {
	done := false
	err := v.view(func(tx *bolt.Tx) error {
		done = tx.Bucket(bMeta).Get(salvageKey(name)) != nil
		return nil
	})
	return done && err == nil
}

func (v *Vault) salvageFile(path string) (n int, err error) {
	raw, err := readRawIndex(path)
	if err != nil {
		return 0, fmt.Errorf("reading the damaged index: %w", err)
	}
	err = v.update(func(tx *bolt.Tx) error {
		ts := tx.Bucket(bTombstones)
		for _, name := range salvageBuckets {
			b := tx.Bucket(name)
			recs := raw.recs[string(name)]
			keys := make([]string, 0, len(recs))
			for k := range recs {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				val := recs[k]
				if b.Get([]byte(k)) != nil {
					continue
				}
				if validID(k) && !bytes.Equal(name, bTombstones) && ts.Get([]byte(k)) != nil {
					continue // erased or expired since: not brought back
				}
				if (bytes.Equal(name, bSealed) || bytes.Equal(name, bSubjects)) && tx.Bucket(bEntries).Get([]byte(k)) == nil && !v.hasFile(k) {
					// Personal data of a call neither the index nor the
					// disk holds any more (an older page's copy of an
					// erased recording): not brought back.
					continue
				}
				if bytes.Equal(name, bEntries) {
					var e Entry
					if json.Unmarshal(val, &e) != nil {
						continue
					}
					v.settle(&e)
					if err := putEntry(tx, &e, nil); err != nil {
						return err
					}
					n++
					continue
				}
				if err := b.Put([]byte(k), val); err != nil {
					return err
				}
				n++
			}
		}
		return tx.Bucket(bMeta).Put(salvageKey(filepath.Base(path)), []byte(v.opt.Now().UTC().Format(time.RFC3339)))
	})
	if err != nil {
		return n, err
	}
	return n, v.computeUsed()
}

// hasFile reports whether a recording file (sealed or being written)
// exists for id.
func (v *Vault) hasFile(id string) bool {
	for _, part := range []bool{false, true} {
		if _, err := os.Stat(v.path(id, part)); err == nil {
			return true
		}
	}
	return false
}

// settle makes a salvaged entry agree with what is on disk when the
// salvaged copy is older than the recording (read from a page written
// while it was still being recorded): a finished file is re-measured.
func (v *Vault) settle(e *Entry) {
	if !e.Recorded || e.State != StateRecording {
		return
	}
	size, sum, err := hashFile(v.path(e.ID, false))
	if err != nil {
		return // the .part, if any, is recovered at the next open; or fsck finds the file missing
	}
	e.State, e.Size, e.SHA256 = StateComplete, size, sum
	if e.Sync == "" || e.Sync == SyncNotRequired {
		e.Sync = SyncPending
	}
	e.Note = "salvaged from a damaged index (an older copy of its entry); size and hash measured from its file"
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
	class, _ := v.policy().Class(v.policy().DefaultClass)
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

package vault

// Recovery after a crash: interrupted recordings kept as truncated.

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"

	"github.com/spanvault/spanvault/vault/audit"
)

// recover marks recordings interrupted by a crash as truncated: their
// .part files are renamed, measured and hashed. Nothing is deleted.
func (v *Vault) recover() error {
	var ids []string
	err := v.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bEntries).ForEach(func(k, val []byte) error {
			var e Entry
			if json.Unmarshal(val, &e) == nil && e.State == StateRecording {
				ids = append(ids, e.ID)
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("vault: recover: %w", err)
	}
	for _, id := range ids {
		part, final := v.path(id, true), v.path(id, false)
		note := "interrupted; recovered at open"
		noFile := false
		if _, err := os.Stat(part); err == nil {
			if err := os.Rename(part, final); err != nil {
				return fmt.Errorf("vault: recover %s: %w", id, err)
			}
			if err := syncDir(filepath.Dir(final)); err != nil {
				return fmt.Errorf("vault: recover %s: %w", id, err)
			}
		} else if _, err := os.Stat(final); err != nil {
			note = "interrupted before any media reached the disk"
			noFile = true
		}
		size, sum, _ := hashFile(final)
		err := v.update(func(tx *bolt.Tx) error {
			old, err := getEntry(tx, id)
			if err != nil {
				return err
			}
			e := *old
			e.State = StateTruncated
			e.Note = note
			e.Size, e.SHA256 = size, sum
			if noFile {
				e.State, e.Recorded, e.Sync = StateCDR, false, SyncNotRequired
			}
			if err := putEntry(tx, &e, old); err != nil {
				return err
			}
			return v.audit(tx, audit.Entry{Action: audit.RecordingRecovered, Actor: "vault", Recording: id, Detail: note})
		})
		if err != nil {
			return fmt.Errorf("vault: recover %s: %w", id, err)
		}
	}
	// .part files without an index entry: the crash came between creating
	// the file and committing the index. Keep them visible to fsck.
	return nil
}

func hashFile(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return n, hex.EncodeToString(h.Sum(nil)), err
}

package vault

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"

	bolt "go.etcd.io/bbolt"

	"github.com/spanvault/spanvault/vault/audit"
)

// bbolt never gives pages back to the file system: a flood of call
// records that retention later deletes leaves the file at its largest.
// Compaction copies the live entries into a new file and swaps it in.

// CompactResult says what a compaction did.
type CompactResult struct {
	Before, After int64 // file sizes in bytes
	Skipped       string
}

// compactWorth reports whether the index's free pages are worth a
// compaction: at least an eighth of the file, and at least 1 MiB. (A
// deleted entry leaves a tombstone and an audit entry behind, so even a
// sweep that deletes most entries frees only part of the pages.)
func compactWorth(free, size int64) bool {
	return free >= 1<<20 && 8*free >= size
}

// indexFree returns the index's file size and the bytes its free pages take.
func (v *Vault) indexFree() (size, free int64, err error) {
	v.dbmu.RLock()
	defer v.dbmu.RUnlock()
	err = v.db.View(func(tx *bolt.Tx) error {
		size = tx.Size()
		return nil
	})
	st := v.db.Stats()
	free = int64(st.FreePageN+st.PendingPageN) * int64(v.db.Info().PageSize)
	return size, free, err
}

// CompactIfWorth compacts the index when its free pages pass the
// threshold (an eighth of the file, at least 1 MiB).
func (v *Vault) CompactIfWorth() (CompactResult, error) {
	size, free, err := v.indexFree()
	if err != nil {
		return CompactResult{}, err
	}
	if !compactWorth(free, size) {
		return CompactResult{Before: size, After: size, Skipped: fmt.Sprintf("%d of %d bytes free", free, size)}, nil
	}
	return v.Compact()
}

// Compact copies the index into a new file with bbolt's Compact, makes it
// durable, and swaps it in atomically (rename over vault.db). Every
// transaction waits while it runs. A crash at any point leaves either
// the old index or the new one as vault.db, whole; the old one is linked
// aside as vault.db.precompact until the new one is open, then removed.
func (v *Vault) Compact() (CompactResult, error) {
	if v.opt.ReadOnly {
		return CompactResult{}, errors.New("vault: compact: opened read-only")
	}
	path := filepath.Join(v.dir, "vault.db")
	tmp := path + ".compact"
	keep := path + ".precompact"
	v.dbmu.Lock()
	defer v.dbmu.Unlock()
	var res CompactResult
	if fi, err := os.Stat(path); err == nil {
		res.Before = fi.Size()
	}
	os.Remove(tmp)
	os.Remove(keep)
	err := func() (err error) {
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer v.catch(&err) // a damaged page panics inside bbolt
		dst, err := bolt.Open(tmp, 0o600, nil)
		if err != nil {
			return err
		}
		if err := bolt.Compact(dst, v.db, 16<<20); err != nil {
			dst.Close()
			return err
		}
		return dst.Close() // Compact's transactions were fsynced at commit
	}()
	if err != nil {
		os.Remove(tmp)
		return res, fmt.Errorf("vault: compact: %w", err)
	}
	if err := os.Link(path, keep); err != nil {
		os.Remove(tmp)
		return res, fmt.Errorf("vault: compact: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		os.Remove(keep)
		return res, fmt.Errorf("vault: compact: %w", err)
	}
	if err := syncDir(v.dir); err != nil {
		return res, fmt.Errorf("vault: compact: %w", err)
	}
	db, err := openDB(path, false)
	if err != nil {
		// The new file will not open: put the old one back and go on with
		// the handle we have.
		if rerr := os.Rename(keep, path); rerr != nil {
			return res, fmt.Errorf("vault: compact: the new index would not open (%v) and the old one could not be put back (%v): it is kept as %s", err, rerr, keep)
		}
		return res, errors.Join(fmt.Errorf("vault: compact: the new index would not open, the old one is back: %w", err), syncDir(v.dir))
	}
	old := v.db
	v.db = db
	old.Close()
	os.Remove(keep)
	if err := syncDir(v.dir); err != nil {
		return res, fmt.Errorf("vault: compact: the new index is in place but not yet durable: %w", err)
	}
	if fi, err := os.Stat(path); err == nil {
		res.After = fi.Size()
	}
	// Audited inside the new index (the lock is held: straight to bbolt).
	if err := v.db.Update(func(tx *bolt.Tx) error {
		return v.audit(tx, audit.Entry{Action: "index_compacted", Actor: "vault",
			Detail: fmt.Sprintf("%d -> %d bytes", res.Before, res.After)})
	}); err != nil {
		v.alert(AlertDiskError, "audit trail: index_compacted not written: "+err.Error())
		return res, fmt.Errorf("vault: compact: auditing: %w", err)
	}
	return res, nil
}

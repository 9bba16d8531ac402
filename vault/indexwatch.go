package vault

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
)

// watchEvery is how often the daemon's vault looks for its index file.
const watchEvery = 10 * time.Second

// watchIndex looks whether the index file is still there while the
// daemon's vault runs (OpenOrReplace's vault; called from syncLoop). An
// index deleted under the running vault would otherwise go on taking
// every write into an unlinked file, all of it lost at the next start:
// it is restored from the open index (bbolt's copy of the current
// transaction), alerted and audited. An index emptied under it is damage
// like a bad page: moved aside, a fresh index, alerted.
func (v *Vault) watchIndex() {
	if !v.watching.Load() {
		return
	}
	path := filepath.Join(v.dir, "vault.db")
	st, err := os.Stat(path)
	switch {
	case err != nil && os.IsNotExist(err):
		detail := fmt.Sprintf("vault: index %s was deleted while the vault ran", path)
		if err := v.restoreIndex(path); err != nil {
			v.alert(AlertIndexDamaged, fmt.Sprintf("%s; restoring it from the open index failed: %v (what is recorded from now on is lost at the next start)", detail, err))
			return
		}
		detail += "; restored from the open index, nothing lost"
		v.alert(AlertIndexDamaged, detail)
		if err := v.Audit("index_restored", "vault", "", detail); err != nil {
			v.alert(AlertIndexDamaged, "index restored but not audited: "+err.Error())
		}
	case err == nil && st.Size() == 0:
		if rerr := v.replaceIndex(fmt.Errorf("vault: index %s was emptied while the vault ran", path)); rerr != nil {
			v.alert(AlertIndexDamaged, rerr.Error())
		}
	}
}

// restoreIndex writes the open index to path (it was deleted) and
// reopens the vault on the new file.
func (v *Vault) restoreIndex(path string) (err error) {
	v.dbmu.Lock()
	defer v.dbmu.Unlock()
	if _, err := os.Stat(path); err == nil {
		return nil // back already (a compaction's rename)
	}
	tmp := path + ".restore"
	func() {
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("reading the open index: %v", r)
			}
		}()
		err = v.db.View(func(tx *bolt.Tx) error { return tx.CopyFile(tmp, 0o600) })
	}()
	if err == nil {
		err = syncPath(tmp)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if err := syncPath(v.dir); err != nil {
		return fmt.Errorf("syncing the restored index: %w", err)
	}
	db, err := openDB(path, false)
	if err != nil {
		return fmt.Errorf("reopening the restored index: %w", err)
	}
	old := v.db
	v.db = db
	func() {
		defer func() { _ = recover() }()
		old.Close()
	}()
	return nil
}

func syncPath(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

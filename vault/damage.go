package vault

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/spanvault/spanvault/vault/audit"
)

// ErrDamaged is matched (errors.Is) by every error that says the index
// file is damaged.
var ErrDamaged = errors.New("vault: index damaged")

// DamagedError names the damaged index and what bbolt found.
type DamagedError struct {
	Path   string
	Detail string
	page   bool // bbolt itself failed on a page (not one value that does not decode)
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("vault: index %s is damaged (corrupt): %s (spanvault fsck -repair moves it aside, salvages what it can and re-indexes the recordings; spanvault run moves it aside and records into a fresh index)", e.Path, e.Detail)
}

// Is makes errors.Is(err, ErrDamaged) true.
func (e *DamagedError) Is(target error) bool { return target == ErrDamaged }

// bbolt asserts on pages it cannot make sense of (it panics). Every
// transaction of the vault goes through view or update, which turn such a
// panic into a *DamagedError: no command and no daemon dies on any
// database content. bbolt rolls the transaction back on the way out.
// A damaged page can also point bbolt outside its memory map (a fault,
// which would kill the process): SetPanicOnFault turns that into a panic
// on this goroutine, caught the same way.
//
// Both hold dbmu shared: only Compact, which swaps the file, holds it alone.
func (v *Vault) view(fn func(*bolt.Tx) error) (err error) {
	v.dbmu.RLock()
	defer v.dbmu.RUnlock()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer v.catch(&err)
	return v.db.View(fn)
}

func (v *Vault) update(fn func(*bolt.Tx) error) error {
	err := v.tryUpdate(fn)
	var de *DamagedError
	if v.replaceOnDamage && errors.As(err, &de) && de.page {
		// The daemon's vault: a page went bad while it ran. Move the index
		// aside and go on with a fresh one, as at start.
		if rerr := v.replaceIndex(err); rerr != nil {
			return errors.Join(err, rerr)
		}
		return v.tryUpdate(fn)
	}
	return err
}

func (v *Vault) tryUpdate(fn func(*bolt.Tx) error) (err error) {
	v.dbmu.RLock()
	defer v.dbmu.RUnlock()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer v.catch(&err)
	return v.db.Update(fn)
}

// replaceIndex moves a damaged index aside while the vault runs and opens
// a fresh one in its place (OpenOrReplace's vault only).
func (v *Vault) replaceIndex(cause error) error {
	path := filepath.Join(v.dir, "vault.db")
	aside := fmt.Sprintf("%s.damaged-%s", path, time.Now().UTC().Format("20060102T150405.000Z"))
	v.dbmu.Lock()
	func() {
		defer func() { _ = recover() }()
		v.db.Close()
	}()
	if err := os.Rename(path, aside); err != nil {
		v.dbmu.Unlock()
		return fmt.Errorf("vault: moving the damaged index aside: %w", err)
	}
	db, err := openDB(path, false)
	if err != nil {
		v.dbmu.Unlock()
		return fmt.Errorf("vault: a fresh index failed too: %w", err)
	}
	v.db = db
	v.dbmu.Unlock()
	if err := v.init(); err != nil {
		return err
	}
	if err := v.noteKey(); err != nil {
		return err
	}
	if err := v.computeUsed(); err != nil {
		return err
	}
	detail := fmt.Sprintf("%v; moved to %s while recording, recording goes on with a fresh index", cause, filepath.Base(aside))
	v.alert(AlertIndexDamaged, detail)
	if err := v.Audit("index_replaced", "vault", "", detail); err != nil {
		return fmt.Errorf("vault: auditing the replaced index: %w", err)
	}
	return nil
}

func (v *Vault) catch(err *error) {
	if r := recover(); r != nil {
		*err = &DamagedError{Path: filepath.Join(v.dir, "vault.db"), Detail: fmt.Sprint(r), page: true}
	}
}

// check reads every bucket and every key of the index, so that every page
// in use is visited; a bad one panics inside bbolt and comes back as a
// *DamagedError. (bbolt's own Tx.Check asserts on a goroutine of its own,
// where the panic cannot be caught.)
func (v *Vault) check() error {
	var walk func(b *bolt.Bucket) error
	walk = func(b *bolt.Bucket) error {
		return b.ForEach(func(k, val []byte) error {
			if val == nil {
				if nb := b.Bucket(k); nb != nil {
					return walk(nb)
				}
			}
			return nil
		})
	}
	return v.view(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error { return walk(b) })
	})
}

// indexDamage reports whether an error from opening the vault says the
// index's content is bad: a page bbolt cannot read, or a record that does
// not decode (bbolt keeps no checksums of values).
func indexDamage(err error) bool {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	var be base64.CorruptInputError
	return errors.Is(err, ErrDamaged) || errors.Is(err, audit.ErrCorrupt) || errors.As(err, &se) || errors.As(err, &te) || errors.As(err, &be) ||
		errors.Is(err, bolterrors.ErrIncompatibleValue) || errors.Is(err, bolterrors.ErrBucketNotFound) || errors.Is(err, bolterrors.ErrInvalid) || errors.Is(err, bolterrors.ErrChecksum)
}

// probeWrite commits a write of every bucket the capture path writes
// (a key put and deleted in each): pages that reading never visits (the
// freelist, pages a split would touch) are exercised before the daemon
// relies on them.
func (v *Vault) probeWrite() error {
	return v.update(func(tx *bolt.Tx) error {
		k := []byte("\xffprobe")
		for _, name := range [][]byte{bMeta, bEntries, bExpiry, bSealed, bSubjects} {
			b := tx.Bucket(name)
			if b == nil {
				continue
			}
			if err := b.Put(k, []byte{1}); err != nil {
				return err
			}
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// openDB opens the bbolt file, turning its panics into errors.
func openDB(path string, readOnly bool) (db *bolt.DB, err error) {
	if err := checkTree(path); err != nil {
		return nil, err
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, &DamagedError{Path: path, Detail: fmt.Sprint(r)}
		}
	}()
	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second, ReadOnly: readOnly})
	if err != nil && !errors.Is(err, bolterrors.ErrTimeout) && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, os.ErrPermission) {
		// Invalid meta pages, wrong version, checksum errors, a file
		// that is too short: the file is not a usable index.
		return nil, &DamagedError{Path: path, Detail: err.Error()}
	}
	return db, err
}

// AlertIndexDamaged is raised when the daemon had to move a damaged index
// aside.
const AlertIndexDamaged = "index_damaged"

// OpenOrReplace opens the vault as Open does; if the index is damaged
// (it cannot be opened, or bbolt's consistency check finds a bad page), it
// moves vault.db aside as vault.db.damaged-<time> (kept, never deleted),
// starts a fresh index and raises AlertIndexDamaged: recording goes on
// whatever state the index was in. The sealed recordings stay in rec/.
// An index that is missing or empty while recordings exist is damage
// too (openLost).
func OpenOrReplace(opt Options) (*Vault, error) {
	if detail, lost := lostIndex(opt.Dir); lost && !opt.ReadOnly {
		return openLost(opt, detail)
	}
	v, err := Open(opt)
	if err == nil {
		if cerr := v.check(); cerr != nil {
			err = cerr
		} else if werr := v.probeWrite(); werr != nil {
			err = werr
		} else {
			v.replaceOnDamage = true
			v.watching.Store(true)
			return v, nil
		}
		v.Close()
	}
	if !indexDamage(err) {
		return nil, err
	}
	path := filepath.Join(opt.Dir, "vault.db")
	aside := fmt.Sprintf("%s.damaged-%s", path, time.Now().UTC().Format("20060102T150405Z"))
	if rerr := os.Rename(path, aside); rerr != nil {
		return nil, fmt.Errorf("%w; moving it aside failed: %v", err, rerr)
	}
	v, oerr := Open(opt)
	if oerr != nil {
		return nil, fmt.Errorf("%w; a fresh index failed too: %v", err, oerr)
	}
	v.replaceOnDamage = true
	v.watching.Store(true)
	detail := fmt.Sprintf("%v; moved to %s, recording goes on with a fresh index", err, filepath.Base(aside))
	v.alert(AlertIndexDamaged, detail)
	// An audit write that fails raises AlertDiskError (Audit); the box
	// records on rather than refuse to start.
	_ = v.Audit("index_replaced", "vault", "", detail)
	return v, nil
}

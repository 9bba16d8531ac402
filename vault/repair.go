package vault

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// lostIndex reports whether the index of dir has disappeared or was
// emptied while recordings exist: vault.db missing or of zero bytes
// beside sealed recordings in rec/. bbolt would start a fresh index and
// a fresh audit chain in its place without a word; for the vault it is
// index damage like a bad page.
func lostIndex(dir string) (detail string, lost bool) {
	path := filepath.Join(dir, "vault.db")
	st, err := os.Stat(path)
	var what string
	switch {
	case err != nil && os.IsNotExist(err):
		what = "is missing"
	case err == nil && st.Mode().IsRegular() && st.Size() == 0:
		what = "is empty (0 bytes)"
	default:
		return "", false
	}
	n := 0
	_ = filepath.WalkDir(filepath.Join(dir, "rec"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".age") || strings.HasSuffix(p, ".age.part")) {
			n++
		}
		return nil
	})
	if n == 0 {
		return "", false // a new vault
	}
	return fmt.Sprintf("vault: index %s %s while %d recordings exist (deleted or emptied)", path, what, n), true
}

// openLost opens a fresh index in place of one that disappeared or was
// emptied (lostIndex), keeping an emptied file aside as evidence, and
// raises AlertIndexDamaged and audits it like any other damage.
func openLost(opt Options, detail string) (*Vault, error) {
	path := filepath.Join(opt.Dir, "vault.db")
	where := "a fresh index was started"
	if _, err := os.Stat(path); err == nil {
		aside := fmt.Sprintf("%s.damaged-%s", path, time.Now().UTC().Format("20060102T150405.000Z"))
		if err := os.Rename(path, aside); err != nil {
			return nil, fmt.Errorf("%s; moving it aside failed: %w", detail, err)
		}
		where = "moved to " + filepath.Base(aside) + ", " + where
	}
	v, err := Open(opt)
	if err != nil {
		return nil, fmt.Errorf("%s; a fresh index failed: %w", detail, err)
	}
	v.replaceOnDamage = true
	v.watching.Store(true)
	msg := fmt.Sprintf("%s; %s, recording goes on (spanvault fsck -repair re-indexes the recordings)", detail, where)
	v.alert(AlertIndexDamaged, msg)
	// An audit write that fails raises AlertDiskError (Audit); the box
	// records on rather than refuse to start.
	_ = v.Audit("index_replaced", "vault", "", msg)
	return v, nil
}

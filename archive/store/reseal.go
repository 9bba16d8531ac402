package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Resealer is a store that can replace an object's age header (the file
// key, wrapped to the recipients) and leave its payload as it is: the
// archive's re-seal job re-wraps classical (X25519) file keys to a hybrid
// post-quantum recipient. After Reseal the object's bytes no longer hash
// to its address; the archive keeps what proves the payload is still the
// box's (index.Resealed). The old header is gone from the store: what
// is kept can no longer be opened with the classical key alone.
type Resealer interface {
	// Reseal replaces the first oldLen bytes of the object sum (its
	// header, as Open read it) by hdr.
	Reseal(ctx context.Context, sum string, oldLen int64, hdr []byte) error
}

func (d *Dir) resealedPath(sum string) string { return d.objPath(sum) + ".resealed" }

// Reseal implements Resealer: a new file (the new header, then the
// payload copied from the old file) fsynced and renamed over the object.
// A marker beside it keeps a later upload of the box's original bytes
// from putting the old header back.
func (d *Dir) Reseal(_ context.Context, sum string, oldLen int64, hdr []byte) error {
	unlock := d.locks.lock("o/" + sum)
	defer unlock()
	src, err := os.Open(d.objPath(sum))
	if errors.Is(err, os.ErrNotExist) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer src.Close()
	if err := writeDurable(d.resealedPath(sum), []byte("resealed\n")); err != nil {
		return err
	}
	tmp := d.objPath(sum) + ".reseal"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	_, err = f.Write(hdr)
	if err == nil {
		_, err = src.Seek(oldLen, io.SeekStart)
	}
	if err == nil {
		_, err = io.Copy(f, src)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, d.objPath(sum))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("store: reseal %s: %w", sum, err)
	}
	return syncDir(filepath.Dir(d.objPath(sum)))
}

// isResealed reports whether the object's header was re-wrapped.
func (d *Dir) isResealed(sum string) bool {
	_, err := os.Stat(d.resealedPath(sum))
	return err == nil
}

var _ Resealer = (*Dir)(nil)

package archive

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/sync/wire"
)

// Firmware updates (sync/doc.go, Updates). An update directory, as `make
// image` or `spanvault-archive update sign` writes it, holds
//
//	update.json     JSON of wire.SignedUpdate (the manifest signed with
//	                the archive's update key, updatekey.go)
//	root.squashfs   the root file system
//	boot.fat        the boot partition
//
// Publish verifies it (the signature under this archive's update key,
// each file's size before reading it, then its SHA-256) and copies it
// into DIR/updates/SERIAL/ (0700, files 0600, synced) before the index
// records it; a serial is published once. Rollouts (update_rollout.go)
// offer it to boxes in waves; boxes download the files over their mutual
// TLS (update_http.go).

// Names in an update directory.
const (
	UpdateManifestFile = "update.json"
	UpdateRootFile     = "root.squashfs"
	UpdateBootFile     = "boot.fat"
	updatesDir         = "updates"
	maxUpdateJSON      = 64 << 10
)

// Refusals of Publish.
var (
	ErrUpdateSignature = errors.New("archive: update: the manifest is not signed by this archive's update key")
	ErrUpdatePublished = errors.New("archive: update: serial already published")
)

// ReadUpdateDir reads and decodes DIR/update.json (strictly, bounded).
func ReadUpdateDir(dir string) (wire.SignedUpdate, error) {
	var su wire.SignedUpdate
	f, err := os.Open(filepath.Join(dir, UpdateManifestFile))
	if err != nil {
		return su, fmt.Errorf("archive: update: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxUpdateJSON+1))
	if err != nil {
		return su, fmt.Errorf("archive: update: %w", err)
	}
	if len(b) > maxUpdateJSON {
		return su, fmt.Errorf("archive: update: %s larger than %d bytes", UpdateManifestFile, maxUpdateJSON)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&su); err != nil {
		return su, fmt.Errorf("archive: update: %s: %w", UpdateManifestFile, err)
	}
	if dec.More() {
		return su, fmt.Errorf("archive: update: %s: trailing data", UpdateManifestFile)
	}
	return su, nil
}

// SignUpdateDir writes an update directory out (0700): the manifest of
// root and boot (sizes and SHA-256 taken here) signed with key, and
// copies of both files. m's Root and Boot are filled in.
func SignUpdateDir(key ed25519.PrivateKey, m wire.UpdateManifest, root, boot, out string) (wire.SignedUpdate, error) {
	if err := os.MkdirAll(out, 0o700); err != nil {
		return wire.SignedUpdate{}, err
	}
	for _, f := range []struct {
		src, dst string
		uf       *wire.UpdateFile
	}{{root, UpdateRootFile, &m.Root}, {boot, UpdateBootFile, &m.Boot}} {
		fi, err := os.Stat(f.src)
		if err != nil {
			return wire.SignedUpdate{}, err
		}
		if fi.Size() <= 0 || fi.Size() > wire.MaxUpdateFile {
			return wire.SignedUpdate{}, fmt.Errorf("archive: update: %s: %d bytes, outside 1..%d", f.src, fi.Size(), wire.MaxUpdateFile)
		}
		sum, n, err := copyHashed(f.src, filepath.Join(out, f.dst), fi.Size())
		if err != nil {
			return wire.SignedUpdate{}, err
		}
		*f.uf = wire.UpdateFile{Size: n, SHA256: sum}
	}
	su, err := wire.SignUpdate(key, m)
	if err != nil {
		return wire.SignedUpdate{}, err
	}
	b, _ := json.MarshalIndent(su, "", "  ")
	if err := writeSynced(filepath.Join(out, UpdateManifestFile), append(b, '\n')); err != nil {
		return wire.SignedUpdate{}, err
	}
	return su, syncDir(out)
}

// copyHashed copies at most size bytes of src to dst (new, 0600, synced)
// and returns their SHA-256 and count; a source longer than size is an
// error.
func copyHashed(src, dst string, size int64) ([]byte, int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return nil, 0, err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, 0, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(in, size+1))
	if err == nil && n > size {
		err = fmt.Errorf("%s grew beyond %d bytes while read", src, size)
	}
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dst)
		return nil, 0, fmt.Errorf("archive: update: %w", err)
	}
	return h.Sum(nil), n, nil
}

func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if serr := f.Sync(); err == nil {
		err = serr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// updateDir is where a published update's files live.
func (a *Archive) updateDir(serial uint64) string {
	return filepath.Join(a.Dir, updatesDir, strconv.FormatUint(serial, 10))
}

// Publish verifies the update in dir and makes it available for
// rollouts. A serial already published is refused (ErrUpdatePublished),
// except on a second front-end sharing the index that lacks its files:
// the same signed manifest there copies them.
func (a *Archive) Publish(ctx context.Context, dir, by string) (*wire.UpdateManifest, error) {
	su, err := ReadUpdateDir(dir)
	if err != nil {
		return nil, err
	}
	pub, err := a.updatePublicKey()
	if err != nil {
		return nil, err
	}
	m, err := wire.VerifyUpdate(pub, su)
	if errors.Is(err, wire.ErrUpdateUnsigned) {
		return nil, ErrUpdateSignature
	}
	if err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	if m.Serial > math.MaxInt64 {
		return nil, fmt.Errorf("archive: update: serial %d above %d", m.Serial, int64(math.MaxInt64))
	}
	signed, _ := json.Marshal(su)
	prev, err := a.Index.Update(ctx, m.Serial)
	switch {
	case errors.Is(err, index.ErrNoUpdate):
	case err != nil:
		return nil, err
	case prev.Signed != string(signed):
		return nil, fmt.Errorf("%w: %d is version %s, published %s by %s", ErrUpdatePublished, m.Serial, prev.Version, prev.PublishedAt.UTC().Format("2006-01-02 15:04"), prev.PublishedBy)
	default:
		if _, serr := os.Stat(filepath.Join(a.updateDir(m.Serial), UpdateManifestFile)); serr == nil {
			return nil, fmt.Errorf("%w: %d (version %s)", ErrUpdatePublished, m.Serial, prev.Version)
		}
	}
	// The files: sizes before any byte is read, then the hashes of the
	// copies (what is served is what was hashed).
	for _, f := range []struct {
		name string
		want wire.UpdateFile
	}{{UpdateRootFile, m.Root}, {UpdateBootFile, m.Boot}} {
		fi, err := os.Stat(filepath.Join(dir, f.name))
		if err != nil {
			return nil, fmt.Errorf("archive: update: %w", err)
		}
		if fi.Size() != f.want.Size {
			return nil, fmt.Errorf("archive: update: %s is %d bytes, the manifest says %d", f.name, fi.Size(), f.want.Size)
		}
	}
	if err := os.MkdirAll(filepath.Join(a.Dir, updatesDir), 0o700); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Join(a.Dir, updatesDir), ".publish-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	for _, f := range []struct {
		name string
		want wire.UpdateFile
	}{{UpdateRootFile, m.Root}, {UpdateBootFile, m.Boot}} {
		sum, n, err := copyHashed(filepath.Join(dir, f.name), filepath.Join(tmp, f.name), f.want.Size)
		if err != nil {
			return nil, err
		}
		if n != f.want.Size || !bytes.Equal(sum, f.want.SHA256) {
			return nil, fmt.Errorf("archive: update: %s does not hash to the manifest's SHA-256 (changed after signing?)", f.name)
		}
	}
	if err := writeSynced(filepath.Join(tmp, UpdateManifestFile), signed); err != nil {
		return nil, err
	}
	if err := syncDir(tmp); err != nil {
		return nil, err
	}
	final := a.updateDir(m.Serial)
	os.RemoveAll(final) // a copy left by a publish that failed before the index
	if err := os.Rename(tmp, final); err != nil {
		return nil, err
	}
	if err := syncDir(filepath.Join(a.Dir, updatesDir)); err != nil {
		return nil, err
	}
	if prev == nil {
		ok, err := a.Index.AddUpdate(ctx, index.Update{Serial: m.Serial, Version: m.Version, Arch: m.Arch, Signed: string(signed),
			RootSize: m.Root.Size, BootSize: m.Boot.Size, PublishedAt: a.Now(), PublishedBy: by})
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("%w: %d (by another front-end, meanwhile)", ErrUpdatePublished, m.Serial)
		}
	}
	a.Event(ctx, "update_published", by, "", fmt.Sprintf("update %d (version %s, %s) published: root %d bytes, boot %d bytes", m.Serial, m.Version, m.Arch, m.Root.Size, m.Boot.Size), false)
	return m, nil
}

// publishedUpdate returns a published update's signed manifest, and
// checks that this front-end holds its files.
func (a *Archive) publishedUpdate(ctx context.Context, serial uint64) (*index.Update, wire.SignedUpdate, error) {
	var su wire.SignedUpdate
	u, err := a.Index.Update(ctx, serial)
	if err != nil {
		return nil, su, err
	}
	if err := json.Unmarshal([]byte(u.Signed), &su); err != nil {
		return nil, su, fmt.Errorf("archive: stored update %d: %w", serial, err)
	}
	return u, su, nil
}

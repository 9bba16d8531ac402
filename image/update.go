package image

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spanvault/spanvault/sync/wire"
)

// Files of an update directory (what `spanvault-archive update publish
// -dir` reads).
const (
	UpdateManifestFile   = "update.json"          // JSON of a wire.SignedUpdate
	UnsignedManifestFile = "update.unsigned.json" // JSON of a wire.UpdateManifest, when built without a key
	UpdateRootFile       = "root.squashfs"        // the bytes of root partition 2 or 3
	UpdateBootFile       = "boot.fat"             // the bytes of boot partition 1
)

// LoadUpdateKey reads the archive's update signing key: a base64 Ed25519
// seed and a newline, readable by its owner only (the archive's
// update.key, in the format of its policy.key).
func LoadUpdateKey(path string) (ed25519.PrivateKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("image: update key: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("image: update key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("image: update key %s: mode %v, want 0600", path, st.Mode().Perm())
	}
	b, err := io.ReadAll(io.LimitReader(f, 1024))
	if err != nil {
		return nil, fmt.Errorf("image: update key: %w", err)
	}
	seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("image: update key %s: not a base64 Ed25519 seed", path)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// Manifest describes the build as an update.
func (r *Result) Manifest() (wire.UpdateManifest, error) {
	root, err := hex.DecodeString(r.RootSHA256)
	if err != nil {
		return wire.UpdateManifest{}, fmt.Errorf("image: root sha256: %w", err)
	}
	boot, err := hex.DecodeString(r.BootSHA256)
	if err != nil {
		return wire.UpdateManifest{}, fmt.Errorf("image: boot sha256: %w", err)
	}
	m := wire.UpdateManifest{Serial: r.Serial, Version: r.Version, Built: r.Built, Arch: "arm64",
		Root: wire.UpdateFile{Size: r.RootSize, SHA256: root},
		Boot: wire.UpdateFile{Size: r.BootSize, SHA256: boot}}
	return m, m.Validate()
}

// WriteUpdate writes the update directory of a build: the root and boot
// partitions' bytes and the manifest, signed with key (update.json) or,
// without a key, unsigned (update.unsigned.json, which no box installs).
// A manifest of the other kind left from an earlier build is removed
// first, so the directory never pairs a manifest with other files. It
// returns the manifest's path.
func WriteUpdate(r *Result, dir string, key ed25519.PrivateKey) (string, error) {
	m, err := r.Manifest()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	for _, name := range []string{UpdateManifestFile, UnsignedManifestFile} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
	}
	for _, f := range []struct {
		src, name, sum string
		size           int64
	}{{r.Root, UpdateRootFile, r.RootSHA256, r.RootSize}, {r.Boot, UpdateBootFile, r.BootSHA256, r.BootSize}} {
		dst := filepath.Join(dir, f.name)
		if err := copyPrivate(f.src, dst); err != nil {
			return "", err
		}
		// The bytes published are the bytes hashed.
		if sum, n, err := hashFile(dst); err != nil {
			return "", err
		} else if sum != f.sum || n != f.size {
			return "", fmt.Errorf("image: %s changed while copying (sha256 %s, want %s)", dst, sum, f.sum)
		}
	}
	var (
		out  []byte
		name = UnsignedManifestFile
	)
	if key != nil {
		s, err := wire.SignUpdate(key, m)
		if err != nil {
			return "", err
		}
		if out, err = json.MarshalIndent(s, "", "  "); err != nil {
			return "", err
		}
		name = UpdateManifestFile
	} else if out, err = json.MarshalIndent(m, "", "  "); err != nil {
		return "", err
	}
	p := filepath.Join(dir, name)
	if err := writePrivate(p, append(out, '\n')); err != nil {
		return "", err
	}
	return p, nil
}

// copyPrivate copies src to dst, readable by the owner only (the root file
// system holds the gokrazy update password), through a temporary file.
func copyPrivate(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if serr := out.Sync(); err == nil {
		err = serr
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("image: %s: %w", dst, err)
	}
	return os.Rename(tmp, dst)
}

func writePrivate(p string, b []byte) error {
	tmp := p + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
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
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("image: %s: %w", p, err)
	}
	return os.Rename(tmp, p)
}

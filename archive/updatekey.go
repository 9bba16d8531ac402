package archive

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spanvault/spanvault/sync/wire"
)

// UpdateKeyFile is the archive's update signing key in its directory: an
// Ed25519 seed, base64, one line, 0600, made by Init and never again. It
// is a key of its own (not the policy key): whoever may change a
// retention class may not thereby run code on every box. Only `update
// sign` (and `make image`) read it: the operator may move it offline
// (docs/security.md) and sign with -key. The archive itself uses only
// the public half, UpdatePubFile: publish verifies with it, enrollment
// hands it to boxes to pin (wire.EnrollReply.UpdateKey at zero-touch
// enrollment, update.pub from enroll).
const UpdateKeyFile = "update.key"

// UpdatePubFile is the update key's public half in the archive's
// directory (base64, one line), written by Init.
const UpdatePubFile = "update.pub"

// makeUpdateKey makes the update key and its public half (Init).
func (a *Archive) makeUpdateKey() error {
	p := filepath.Join(a.Dir, UpdateKeyFile)
	if err := makeSeedFile(p); err != nil { // policykey.go
		return fmt.Errorf("archive: update key: %w", err)
	}
	k, err := ReadUpdateKey(p)
	if err != nil {
		return err
	}
	return writeUpdatePubFile(filepath.Join(a.Dir, UpdatePubFile), k.Public().(ed25519.PublicKey))
}

// ReadUpdateKey reads an update signing key file (a base64 Ed25519 seed).
func ReadUpdateKey(path string) (ed25519.PrivateKey, error) {
	return readSeedKey(path, "update key")
}

// readSeedKey reads a signing key file (a base64 Ed25519 seed: policy.key,
// update.key); what names the key in errors.
func readSeedKey(path, what string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("archive: %s: %w", what, err)
	}
	seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("archive: %s %s: not a base64 Ed25519 seed", what, path)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// UpdatePublicKey is the update key's public half as boxes pin it
// (base64; wire.ParseUpdateKey reads it), from UpdatePubFile. An archive
// made before UpdatePubFile existed derives it once from UpdateKeyFile;
// with neither, it is an error: the update key is never made anew after
// Init (a key the operator moved offline is not replaced behind their
// back).
func (a *Archive) UpdatePublicKey() (string, error) {
	pp := filepath.Join(a.Dir, UpdatePubFile)
	b, err := os.ReadFile(pp)
	if errors.Is(err, os.ErrNotExist) {
		k, kerr := ReadUpdateKey(filepath.Join(a.Dir, UpdateKeyFile))
		if kerr != nil {
			return "", fmt.Errorf("archive: update key: neither %s nor %s in %s: copy the update key's public half there (the archive never makes a new update key): %w", UpdatePubFile, UpdateKeyFile, a.Dir, kerr)
		}
		pub := k.Public().(ed25519.PublicKey)
		if err := writeUpdatePubFile(pp, pub); err != nil {
			return "", err
		}
		return base64.StdEncoding.EncodeToString(pub), nil
	}
	if err != nil {
		return "", fmt.Errorf("archive: update key: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if _, err := wire.ParseUpdateKey(s); err != nil {
		return "", fmt.Errorf("archive: update key %s: %w", pp, err)
	}
	return s, nil
}

// updatePublicKey is UpdatePublicKey parsed.
func (a *Archive) updatePublicKey() (ed25519.PublicKey, error) {
	s, err := a.UpdatePublicKey()
	if err != nil {
		return nil, err
	}
	return wire.ParseUpdateKey(s)
}

// writeUpdatePubFile writes an update public key file at once (a reader
// sees the whole key or none).
func writeUpdatePubFile(p string, pub ed25519.PublicKey) error {
	f, err := os.CreateTemp(filepath.Dir(p), filepath.Base(p)+".new-*")
	if err != nil {
		return fmt.Errorf("archive: update key: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.WriteString(base64.StdEncoding.EncodeToString(pub) + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		return fmt.Errorf("archive: update key: %w", err)
	}
	return nil
}

// writeUpdatePub writes the update public key for a box (enroll).
func (a *Archive) writeUpdatePub(path string) error {
	pk, err := a.UpdatePublicKey()
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(pk+"\n"), 0o644)
}

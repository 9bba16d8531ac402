package archive

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// UpdateKeyFile is the archive's update signing key in its directory: an
// Ed25519 seed, base64, one line, 0600, made at its first use. It is a
// key of its own (not the policy key): whoever may change a retention
// class may not thereby run code on every box. `make image` signs an
// update's manifest by reading this same file (ReadUpdateKey); boxes pin
// its public half (wire.EnrollReply.UpdateKey at zero-touch enrollment,
// update.pub from enroll).
const UpdateKeyFile = "update.key"

// updateKey loads the update signing key, making it at first use.
func (a *Archive) updateKey() (ed25519.PrivateKey, error) {
	p := filepath.Join(a.Dir, UpdateKeyFile)
	if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
		seed := make([]byte, ed25519.SeedSize)
		if _, err := rand.Read(seed); err != nil {
			return nil, err
		}
		f, werr := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if werr == nil {
			_, werr = f.WriteString(base64.StdEncoding.EncodeToString(seed) + "\n")
			if cerr := f.Sync(); werr == nil {
				werr = cerr
			}
			if cerr := f.Close(); werr == nil {
				werr = cerr
			}
		}
		if werr != nil && !errors.Is(werr, os.ErrExist) { // another process may have made it first
			return nil, fmt.Errorf("archive: update key: %w", werr)
		}
	}
	return ReadUpdateKey(p)
}

// ReadUpdateKey reads an update signing key file (a base64 Ed25519 seed).
func ReadUpdateKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("archive: update key: %w", err)
	}
	seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("archive: update key %s: not a base64 Ed25519 seed", path)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// UpdatePublicKey is the update key's public half as boxes pin it
// (base64; wire.ParseUpdateKey reads it).
func (a *Archive) UpdatePublicKey() (string, error) {
	k, err := a.updateKey()
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(k.Public().(ed25519.PublicKey)), nil
}

// writeUpdatePub writes the update public key for a box (enroll).
func (a *Archive) writeUpdatePub(path string) error {
	pk, err := a.UpdatePublicKey()
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(pk+"\n"), 0o644)
}

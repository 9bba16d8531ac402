package archive

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// UpdateKeyFile is the archive's update signing key in its directory: an
// Ed25519 seed, base64, one line, 0600, made by Init (at first use in
// archives made before). It is a key of its own (not the policy key):
// whoever may change a retention class may not thereby run code on every
// box. `make image` signs an
// update's manifest by reading this same file (ReadUpdateKey); boxes pin
// its public half (wire.EnrollReply.UpdateKey at zero-touch enrollment,
// update.pub from enroll).
const UpdateKeyFile = "update.key"

// updateKey loads the update signing key, making it at first use.
func (a *Archive) updateKey() (ed25519.PrivateKey, error) {
	p := filepath.Join(a.Dir, UpdateKeyFile)
	if err := makeSeedFile(p); err != nil { // policykey.go
		return nil, fmt.Errorf("archive: update key: %w", err)
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

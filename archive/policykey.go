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

// policyKeyFile is the archive's policy signing key (Ed25519 seed,
// base64, 0600), made by Init (at first use in archives made before); boxes pin its public key
// (wire.PolicyKey), received at enrollment or from their configuration.
const policyKeyFile = "policy.key"

// policyKey loads the policy signing key, making it at first use.
func (a *Archive) policyKey() (ed25519.PrivateKey, error) {
	p := filepath.Join(a.Dir, policyKeyFile)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		seed := make([]byte, ed25519.SeedSize)
		if _, err := rand.Read(seed); err != nil {
			return nil, err
		}
		// Written whole under another name, then linked into place: a
		// reader never sees a key half written (concurrent enrollment
		// replies at first use read an empty file), and the link fails
		// when another request or process made the key first.
		f, werr := os.CreateTemp(a.Dir, policyKeyFile+".new-*")
		if werr != nil {
			return nil, fmt.Errorf("archive: policy key: %w", werr)
		}
		tmp := f.Name()
		defer os.Remove(tmp)
		_, werr = f.WriteString(base64.StdEncoding.EncodeToString(seed) + "\n")
		if cerr := f.Sync(); werr == nil {
			werr = cerr
		}
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr == nil {
			werr = os.Link(tmp, p)
		}
		if werr != nil && !errors.Is(werr, os.ErrExist) {
			return nil, fmt.Errorf("archive: policy key: %w", werr)
		}
		b, err = os.ReadFile(p) // another request or process may have made it first
	}
	if err != nil {
		return nil, fmt.Errorf("archive: policy key: %w", err)
	}
	seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("archive: policy key %s: not a base64 Ed25519 seed", p)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// PolicyPublicKey is the policy signing key's public half as boxes pin it
// (base64).
func (a *Archive) PolicyPublicKey() (string, error) {
	k, err := a.policyKey()
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(k.Public().(ed25519.PublicKey)), nil
}

// writePolicyPub writes the policy public key for a box (enroll).
func (a *Archive) writePolicyPub(path string) error {
	pk, err := a.PolicyPublicKey()
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(pk+"\n"), 0o644)
}

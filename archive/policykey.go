package archive

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// policyKeyFile is the archive's policy signing key (Ed25519 seed,
// base64, 0600), made by Init (at first use in archives made before);
// boxes pin its public key (wire.PolicyKey), received at enrollment or
// from their configuration.
const policyKeyFile = "policy.key"

// policyKey loads the policy signing key, making it at first use.
func (a *Archive) policyKey() (ed25519.PrivateKey, error) {
	p := filepath.Join(a.Dir, policyKeyFile)
	if err := makeSeedFile(p); err != nil {
		return nil, fmt.Errorf("archive: policy key: %w", err)
	}
	return readSeedKey(p, "policy key")
}

// makeSeedFile makes a key file (a new Ed25519 seed, base64, one line,
// 0600) at p unless there is one. It is written whole under another
// name, then linked into place: a reader never sees a key half written
// (concurrent requests at first use read an empty file and failed), and
// the link fails when another request or process made the key first,
// whose key then stands.
func makeSeedFile(p string) error {
	if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
		return err
	}
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(p), filepath.Base(p)+".new-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.WriteString(base64.StdEncoding.EncodeToString(seed) + "\n")
	if cerr := f.Sync(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(tmp, p)
	}
	if err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return nil
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

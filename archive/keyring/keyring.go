package keyring

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"
)

// EnvVar is the environment variable an identity may come from instead of
// a file (its value is the AGE-SECRET-KEY-1... line).
const EnvVar = "SPANVAULT_ARCHIVE_IDENTITY"

// Keyring is the access service's keys.
type Keyring struct {
	ids       []age.Identity
	blind     []byte // blind index key
	link      []byte // streaming link signing key
	check     string // key check value (hex), stored in the index
	recipient string // the first identity's public key, when known
	source    string // where the identity came from (for messages)
}

// New makes a keyring from identities and a secret the derived keys come
// from (an HSM-backed deployment passes its own identities and a secret
// the device releases). The same secret always gives the same blind
// index, link and key check keys.
func New(ids []age.Identity, secret []byte) (*Keyring, error) {
	if len(ids) == 0 {
		return nil, errors.New("keyring: no identity")
	}
	if len(secret) < 16 {
		return nil, errors.New("keyring: secret shorter than 16 bytes")
	}
	blind, err := hkdf.Key(sha256.New, secret, nil, "spanvault blind index v1", 32)
	if err != nil {
		return nil, err
	}
	link, err := hkdf.Key(sha256.New, secret, nil, "spanvault streaming links v1", 32)
	if err != nil {
		return nil, err
	}
	check, err := hkdf.Key(sha256.New, secret, nil, "spanvault key check v1", 16)
	if err != nil {
		return nil, err
	}
	return &Keyring{ids: ids, blind: blind, link: link, check: hex.EncodeToString(check), recipient: recipientOf(ids[0])}, nil
}

// Parse reads age identities (the age-keygen format). The derived keys
// come from the key material of the first identity (its canonical
// encoding, AGE-SECRET-KEY-1...), never from the text: an identity file
// with age-keygen's comment lines and the bare key line of $EnvVar give
// the same keys. Further identities only open.
func Parse(text []byte) (*Keyring, error) {
	ids, err := age.ParseIdentities(bytes.NewReader(text))
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	secret, err := keyMaterial(ids[0])
	if err != nil {
		return nil, err
	}
	return New(ids, secret)
}

// keyMaterial is an identity's canonical secret encoding.
func keyMaterial(id age.Identity) ([]byte, error) {
	switch i := id.(type) {
	case *age.X25519Identity:
		return []byte(i.String()), nil
	case *age.HybridIdentity:
		return []byte(i.String()), nil
	}
	return nil, fmt.Errorf("keyring: an identity of type %T has no key material to derive the blind index and link keys from (use New with a secret)", id)
}

func recipientOf(id age.Identity) string {
	switch i := id.(type) {
	case *age.X25519Identity:
		return i.Recipient().String()
	case *age.HybridIdentity:
		return i.Recipient().String()
	}
	return ""
}

// Load reads the identity from file, refusing a file group or other may
// read; with file empty it reads the environment variable EnvVar.
func Load(file string) (*Keyring, error) {
	if file == "" {
		v := os.Getenv(EnvVar)
		if v == "" {
			return nil, fmt.Errorf("keyring: no identity file given and %s is not set", EnvVar)
		}
		k, err := Parse([]byte(v))
		if err != nil {
			return nil, err
		}
		k.source = "$" + EnvVar
		return k, nil
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("keyring: %s is mode %04o: the archive's identity must not be readable by group or others (chmod 600)", file, st.Mode().Perm())
	}
	b, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	k, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("keyring: %s: %w", file, err)
	}
	k.source = file
	return k, nil
}

// Check is the key check value: derived from the same secret as the blind
// index and link keys under its own label, so it tells whether two
// keyrings derive the same keys and reveals nothing of them. The index
// stores it (access.CheckKeys).
func (k *Keyring) Check() string { return k.check }

// Recipient is the first identity's public key (age1...), "" when the
// identity is not a native age one.
func (k *Keyring) Recipient() string { return k.recipient }

// Source says where the identity came from: its file, $EnvVar, or ""
// (New).
func (k *Keyring) Source() string { return k.source }

// Identities open sealed metadata and recordings.
func (k *Keyring) Identities() []age.Identity { return k.ids }

// Decrypt opens an age-sealed value.
func (k *Keyring) Decrypt(sealed []byte) ([]byte, error) {
	r, err := age.Decrypt(bytes.NewReader(sealed), k.ids...)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	return io.ReadAll(r)
}

// Open returns a reader of an age file's plaintext.
func (k *Keyring) Open(r io.Reader) (io.Reader, error) {
	return age.Decrypt(r, k.ids...)
}

// Term is the blind index term of a value of a kind ("number", "ext",
// "tag"): an HMAC-SHA-256 under the blind key, hex, 32 characters. The
// value must already be normalised.
func (k *Keyring) Term(kind, value string) string {
	m := hmac.New(sha256.New, k.blind)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(strings.TrimSpace(value)))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// Sign is a MAC over msg under the link key (hex, 32 characters).
func (k *Keyring) Sign(msg string) string {
	m := hmac.New(sha256.New, k.link)
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// Verify checks a Sign result in constant time.
func (k *Keyring) Verify(msg, sig string) bool {
	return hmac.Equal([]byte(k.Sign(msg)), []byte(sig))
}

// String never shows a key.
func (k *Keyring) String() string { return "keyring(redacted)" }

// GoString never shows a key.
func (k *Keyring) GoString() string { return "keyring(redacted)" }

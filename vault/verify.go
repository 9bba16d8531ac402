package vault

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
)

// Integrity errors of a recording's file, found without the identity.
var (
	// ErrSwapped: the file is another recording's (its hash is the one
	// the index holds for that recording). Export refuses it.
	ErrSwapped = errors.New("vault: the recording's file belongs to another recording")
	// ErrAltered: the file does not match the hash and size its index
	// entry holds (damaged on disk, or edited).
	ErrAltered = errors.New("vault: the recording's file does not match its stored hash")
)

// IntegrityError says what is wrong with a recording's file.
type IntegrityError struct {
	ID, Other string // Other: the recording whose file it is (swapped)
	Want, Got string
	Err       error
}

func (e *IntegrityError) Error() string {
	if e.Other != "" {
		return fmt.Sprintf("%s: %v: it is the file of %s (sha256 %s); refused", e.ID, e.Err, e.Other, e.Got)
	}
	return fmt.Sprintf("%s: %v (index %s, file %s)", e.ID, e.Err, e.Want, e.Got)
}

func (e *IntegrityError) Unwrap() error { return e.Err }

// VerifyFile checks a finished recording's file against the size and
// SHA-256 its index entry holds. It needs no identity.
func (v *Vault) VerifyFile(id string) error {
	e, err := v.Get(id)
	if err != nil {
		return err
	}
	if !e.Recorded || e.SHA256 == "" {
		return nil
	}
	f, err := os.Open(v.path(id, false))
	if err != nil {
		return fmt.Errorf("vault: %s: %w", id, err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return fmt.Errorf("vault: %s: %w", id, err)
	}
	got := hex.EncodeToString(h.Sum(nil))
	if got == e.SHA256 && n == e.Size {
		return nil
	}
	ie := &IntegrityError{ID: id, Want: e.SHA256, Got: got, Err: ErrAltered}
	es, _ := v.List()
	for _, o := range es {
		if o.ID != id && o.SHA256 == got {
			ie.Other, ie.Err = o.ID, ErrSwapped
			break
		}
	}
	return ie
}

// countingReader counts the plaintext bytes the sealed reader pulled.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

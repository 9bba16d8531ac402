package evidence

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"filippo.io/age"

	"github.com/spanvault/spanvault/vault/sealed"
)

// Contents is what a decrypted recording holds.
type Contents struct {
	Frames      uint64
	First, Last time.Time // capture times of the first and last frame
	Meta        int       // metadata records (the sealed call record)
	Complete    bool      // the recording ends with its end record
}

// Decrypt opens a bundle's sealed recording with the identities and
// reads it through: every chunk authenticates (age), every record parses
// (vault/sealed). It returns what it holds.
func Decrypt(recording []byte, ids []age.Identity) (*Contents, error) {
	r, err := age.Decrypt(bytes.NewReader(recording), ids...)
	if err != nil {
		return nil, fmt.Errorf("evidence: decrypting the recording: %w", err)
	}
	sr, err := sealed.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("evidence: reading the recording: %w", err)
	}
	c := &Contents{}
	var f sealed.Frame
	for {
		kind, _, err := sr.Next(&f)
		if errors.Is(err, io.EOF) {
			c.Complete = true
			return c, nil
		}
		if errors.Is(err, sealed.ErrTruncated) {
			return c, nil
		}
		if err != nil {
			return c, fmt.Errorf("evidence: reading the recording after %d frames: %w", c.Frames, err)
		}
		if kind == sealed.RecMeta {
			c.Meta++
			continue
		}
		if c.Frames == 0 {
			c.First = f.Time
		}
		c.Last = f.Time
		c.Frames++
	}
}

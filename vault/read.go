package vault

// Reading a recording back.

import (
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"

	"github.com/spanvault/spanvault/vault/sealed"
)

// OpenRecording decrypts a recording with the identities and returns a
// reader of its records. The caller closes the returned closer.
func (v *Vault) OpenRecording(id string, ids []age.Identity) (*sealed.Reader, io.Closer, error) {
	r, c, _, err := v.OpenRecordingCounted(id, ids)
	return r, c, err
}

// OpenRecordingCounted is OpenRecording that also reports, through
// plaintext, how many decrypted bytes the reader has pulled: a chunk that
// fails to authenticate is chunk plaintext()/64KiB (age's STREAM chunks
// are 64 KiB of plaintext).
func (v *Vault) OpenRecordingCounted(id string, ids []age.Identity) (*sealed.Reader, io.Closer, func() int64, error) {
	r, c, cr, err := v.openRecording(id, ids)
	if err != nil {
		return nil, nil, nil, err
	}
	return r, c, func() int64 { return cr.n }, nil
}

func (v *Vault) openRecording(id string, ids []age.Identity) (*sealed.Reader, io.Closer, *countingReader, error) {
	if !validID(id) {
		return nil, nil, nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	e, err := v.Get(id)
	if err != nil {
		return nil, nil, nil, err
	}
	if !e.Recorded {
		return nil, nil, nil, fmt.Errorf("vault: %s has no media stored (%s)", id, e.CallState)
	}
	f, err := os.Open(v.path(id, false))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("vault: open %s: %w", id, err)
	}
	if len(ids) == 0 {
		f.Close()
		return nil, nil, nil, ErrNoKey
	}
	pr, err := age.Decrypt(f, ids...)
	if err != nil {
		f.Close()
		if _, ok := err.(*age.NoIdentityMatchError); ok {
			return nil, nil, nil, fmt.Errorf("%w: %v", ErrNoKey, err)
		}
		if e.State == StateTruncated {
			// Interrupted before its age header reached the disk.
			return nil, nil, nil, fmt.Errorf("vault: %s: %w (%v)", id, sealed.ErrTruncated, err)
		}
		return nil, nil, nil, fmt.Errorf("vault: decrypt %s: %w", id, err)
	}
	cr := &countingReader{r: pr}
	r, err := sealed.NewReader(cr)
	if err != nil {
		f.Close()
		return nil, nil, nil, fmt.Errorf("vault: read %s: %w", id, err)
	}
	return r, f, cr, nil
}

// Resolve finds a recording by its ID or, with the identities, by SIP
// Call-ID.
func (v *Vault) Resolve(key string, ids []age.Identity) (string, error) {
	if validID(key) {
		if _, err := v.Get(key); err == nil {
			return key, nil
		}
	}
	es, err := v.List()
	if err != nil {
		return "", err
	}
	for _, e := range es {
		p, err := v.Personal(e.ID, ids)
		if err != nil {
			continue
		}
		if p.CallID == key && e.Recorded {
			return e.ID, nil
		}
	}
	if strings.TrimSpace(key) == "" {
		return "", fmt.Errorf("%w: empty ID", ErrNotFound)
	}
	return "", fmt.Errorf("%w: %s", ErrNotFound, key)
}

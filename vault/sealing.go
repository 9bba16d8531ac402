package vault

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

// ClassicalOnly reports whether the recording id's file key is wrapped to
// classical (X25519) recipients only, from the first stanza of its age
// header: age never mixes hybrid post-quantum (mlkem768x25519) stanzas
// with others, so the first says what the file is. A box whose recipients
// were classical before keeps such files until retention removes them
// (the archive can re-seal its copies; the box cannot: it holds no
// identity).
func (v *Vault) ClassicalOnly(id string) (bool, error) {
	if !validID(id) {
		return false, fmt.Errorf("vault: invalid recording ID %q", id)
	}
	f, err := os.Open(v.path(id, false))
	if err != nil {
		return false, fmt.Errorf("vault: %w", err)
	}
	defer f.Close()
	var b [64]byte
	n, err := io.ReadFull(f, b[:])
	if err != nil && err != io.ErrUnexpectedEOF {
		return false, fmt.Errorf("vault: %s: %w", id, err)
	}
	const intro = "age-encryption.org/v1\n-> "
	if !bytes.HasPrefix(b[:n], []byte(intro)) {
		return false, fmt.Errorf("vault: %s: not an age file", id)
	}
	return !bytes.HasPrefix(b[len(intro):n], []byte("mlkem768x25519 ")), nil
}

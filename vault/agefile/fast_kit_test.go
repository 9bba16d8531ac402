package agefile

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"filippo.io/age"
)

// sealedTwice is msg sealed to rs twice: by this package's writer and by
// age.Encrypt.
func sealedTwice(t *testing.T, msg []byte, rs ...age.Recipient) [][]byte {
	t.Helper()
	var a, b bytes.Buffer
	w, err := NewWriter(&a, nil, rs...)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(msg)
	w.Close()
	aw, err := age.Encrypt(&b, rs...)
	if err != nil {
		t.Fatal(err)
	}
	aw.Write(msg)
	aw.Close()
	return [][]byte{a.Bytes(), b.Bytes()}
}

// opensOnlyWith checks that filippo.io/age decrypts file to msg with id,
// and that other matches none of its stanzas.
func opensOnlyWith(t *testing.T, file, msg []byte, id, other age.Identity) {
	t.Helper()
	r, err := age.Decrypt(bytes.NewReader(file), id)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("decrypted %d bytes, %v", len(got), err)
	}
	var nomatch *age.NoIdentityMatchError
	if _, err := age.Decrypt(bytes.NewReader(file), other); !errors.As(err, &nomatch) {
		t.Fatalf("another identity: %v", err)
	}
}

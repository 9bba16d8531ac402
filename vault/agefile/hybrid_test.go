package agefile

import (
	"bytes"
	"io"
	"testing"

	"filippo.io/age"
)

// Files sealed to the fast hybrid recipient open with filippo.io/age's
// HybridIdentity (through this package's writer and through age.Encrypt),
// carry one mlkem768x25519 stanza, and open with no other identity; the
// fast recipient keeps age's "postquantum" label, so it is never mixed
// with an X25519 recipient.
func TestFastHybrid(t *testing.T) {
	t.Parallel()
	other, _ := age.GenerateHybridIdentity()
	for i := 0; i < 10; i++ {
		id, err := age.GenerateHybridIdentity()
		if err != nil {
			t.Fatal(err)
		}
		rs := Fast([]age.Recipient{id.Recipient()})
		f, ok := rs[0].(*hybrid)
		if !ok || f.String() != id.Recipient().String() {
			t.Fatalf("Fast kept %T", rs[0])
		}
		msg := bytes.Repeat([]byte{byte(i)}, 1000+i)
		for _, file := range sealedTwice(t, msg, rs...) {
			hdr, _ := age.ExtractHeader(bytes.NewReader(file))
			if n := bytes.Count(hdr, []byte("\n-> mlkem768x25519 ")); n != 1 || bytes.Contains(hdr, []byte("-> X25519")) {
				t.Fatalf("header:\n%s", hdr)
			}
			opensOnlyWith(t, file, msg, id, other)
		}
	}
	x, _ := age.GenerateX25519Identity()
	id, _ := age.GenerateHybridIdentity()
	if _, err := NewWriter(io.Discard, nil, Fast([]age.Recipient{id.Recipient(), x.Recipient()})...); err == nil {
		t.Fatal("a hybrid recipient mixed with an X25519 one")
	}
	if rs := Fast([]age.Recipient{id.Recipient(), x.Recipient()}); len(rs) != 2 {
		t.Fatal(rs)
	}
}

// BenchmarkWrapHybrid: wrapping one file key to a hybrid recipient, age's
// and the fast one.
func BenchmarkWrapHybrid(b *testing.B) {
	id, _ := age.GenerateHybridIdentity()
	key := make([]byte, 16)
	for _, r := range []struct {
		name string
		r    age.Recipient
	}{{"age", id.Recipient()}, {"fast", Fast([]age.Recipient{id.Recipient()})[0]}} {
		b.Run(r.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := r.r.Wrap(key); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

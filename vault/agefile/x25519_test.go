package agefile

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"

	"filippo.io/age"
)

// Files sealed to the fast X25519 recipient open with filippo.io/age and
// the recipient's identity (through this package's writer and through
// age.Encrypt), and with no other identity.
func TestFastX25519(t *testing.T) {
	t.Parallel()
	other, _ := age.GenerateX25519Identity()
	for i := 0; i < 20; i++ {
		id, _ := age.GenerateX25519Identity()
		rs := Fast([]age.Recipient{id.Recipient()})
		f, ok := rs[0].(*x25519)
		if !ok || f.String() != id.Recipient().String() {
			t.Fatalf("Fast kept %T", rs[0])
		}
		msg := bytes.Repeat([]byte{byte(i)}, 1000+i)
		for _, file := range sealedTwice(t, msg, rs...) {
			opensOnlyWith(t, file, msg, id, other)
		}
	}
}

// The ladder computes X25519 as crypto/ecdh does (RFC 7748's vector, and
// random keys and points), and refuses a low-order point.
func TestLadderMatchesECDH(t *testing.T) {
	t.Parallel()
	h := func(s string) []byte { b, _ := hex.DecodeString(s); return b }
	got, err := x25519Ladder(h("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"), h("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c"))
	if err != nil || hex.EncodeToString(got) != "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552" {
		t.Fatalf("RFC 7748 vector: %x %v", got, err)
	}
	for i := 0; i < 300; i++ {
		var k, p [32]byte
		rand.Read(k[:])
		rand.Read(p[:])
		if i%2 == 0 {
			other, _ := ecdh.X25519().GenerateKey(rand.Reader)
			copy(p[:], other.PublicKey().Bytes())
		}
		priv, _ := ecdh.X25519().NewPrivateKey(k[:])
		pub, _ := ecdh.X25519().NewPublicKey(p[:])
		want, werr := priv.ECDH(pub)
		got, gerr := x25519Ladder(k[:], p[:])
		if (werr == nil) != (gerr == nil) || !bytes.Equal(got, want) {
			t.Fatalf("k %x p %x: ladder %x %v, ecdh %x %v", k, p, got, gerr, want, werr)
		}
	}
	if _, err := x25519Ladder(make([]byte, 32), make([]byte, 32)); err == nil {
		t.Fatal("low-order point accepted")
	}
}

func TestBech32(t *testing.T) {
	t.Parallel()
	id, _ := age.GenerateX25519Identity()
	good := id.Recipient().String()
	if hrp, data, err := bech32Decode(good); err != nil || hrp != "age" || len(data) != 32 {
		t.Fatalf("%q: %q %d %v", good, hrp, len(data), err)
	}
	flip := []byte(good)
	if flip[10] == 'q' {
		flip[10] = 'p'
	} else {
		flip[10] = 'q'
	}
	for _, bad := range []string{string(flip), strings.ToUpper(good), "age1", good[:len(good)-1], "age1qqqqqqqb", good + "!"} {
		if _, _, err := bech32Decode(bad); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
	// A recipient it cannot read stays the original.
	if rs := Fast([]age.Recipient{id.Recipient(), nil}); rs[0] == nil || rs[1] != nil {
		t.Fatalf("%v", rs)
	}
}

func BenchmarkWrap(b *testing.B) {
	id, _ := age.GenerateX25519Identity()
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

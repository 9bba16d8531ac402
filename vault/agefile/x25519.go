package agefile

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"filippo.io/age"
	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"
	"golang.org/x/crypto/chacha20poly1305"
)

// Fast returns recipients that seal exactly as the given ones, with each
// X25519 recipient replaced by one that computes its ephemeral share on
// the Edwards curve with a precomputed table (filippo.io/edwards25519)
// instead of the Montgomery ladder, and its shared secret from one ladder
// (crypto/ecdh, which age uses, computes a private key's public key when
// the key is made: age's wrap runs four ladders): the same key, the same
// stanza, about a third of the CPU per file. A box seals three files a
// call and two per call record, so this is most of what a burst of call
// records costs. Each hybrid post-quantum recipient (age1pq1...) is
// replaced the same way (hybrid: its X25519 half from the table, its
// ML-KEM-768 key expanded once per recipient). Other recipients, and any
// it cannot read, are kept as they are.
func Fast(rs []age.Recipient) []age.Recipient {
	out := make([]age.Recipient, len(rs))
	for i, r := range rs {
		out[i] = r
		switch x := r.(type) {
		case *age.X25519Recipient:
			if f, err := newX25519(x.String()); err == nil {
				out[i] = f
			}
		case *age.HybridRecipient:
			if f, err := newHybrid(x.String()); err == nil {
				out[i] = f
			}
		}
	}
	return out
}

// x25519 is an age X25519 recipient (age-encryption.org/v1, "X25519").
type x25519 struct {
	pub  [32]byte
	text string
}

const x25519Label = "age-encryption.org/v1/X25519"

func newX25519(s string) (*x25519, error) {
	hrp, data, err := bech32Decode(s)
	if err != nil {
		return nil, err
	}
	if hrp != "age" || len(data) != 32 {
		return nil, fmt.Errorf("agefile: %q is not an X25519 recipient", s)
	}
	r := &x25519{text: s}
	copy(r.pub[:], data)
	return r, nil
}

func (r *x25519) String() string { return r.text }

// Wrap wraps fileKey as age's X25519 recipient does: an ephemeral share
// E = e·B, a shared secret e·R, the wrapping key HKDF-SHA-256(shared,
// E || R, label), and ChaCha20-Poly1305 with a zero nonce over the file
// key.
func (r *x25519) Wrap(fileKey []byte) ([]*age.Stanza, error) {
	var e [32]byte
	rand.Read(e[:])
	s, err := edwards25519.NewScalar().SetBytesWithClamping(e[:32])
	if err != nil {
		return nil, err
	}
	share := new(edwards25519.Point).ScalarBaseMult(s).BytesMontgomery()
	shared, err := x25519Ladder(e[:32], r.pub[:])
	if err != nil {
		return nil, err
	}
	salt := make([]byte, 0, 64)
	salt = append(append(salt, share...), r.pub[:]...)
	key, err := hkdf.Key(sha256.New, shared, salt, x25519Label, chacha20poly1305.KeySize)
	if err != nil {
		return nil, err
	}
	aead, err := chacha20poly1305.New(key)
	if err != nil {
		return nil, err
	}
	body := aead.Seal(nil, make([]byte, chacha20poly1305.NonceSize), fileKey, nil)
	return []*age.Stanza{{Type: "X25519", Args: []string{base64.RawStdEncoding.EncodeToString(share)}, Body: body}}, nil
}

// x25519Ladder is X25519(scalar, point) (RFC 7748): the Montgomery ladder
// over filippo.io/edwards25519's field, as crypto/ecdh computes it. It is
// here because crypto/ecdh's private keys compute their public key when
// made (a second ladder per wrap, and a third for age's own recipient).
// A low-order point, whose result is all zeros, is refused as ecdh
// refuses it.
func x25519Ladder(scalar, point []byte) ([]byte, error) {
	var e [32]byte
	copy(e[:], scalar)
	e[0] &= 248
	e[31] &= 127
	e[31] |= 64
	var x1, x2, z2, x3, z3, tmp0, tmp1 field.Element
	if _, err := x1.SetBytes(point); err != nil {
		return nil, fmt.Errorf("agefile: X25519: %w", err)
	}
	x2.One()
	x3.Set(&x1)
	z3.One()
	swap := 0
	for pos := 254; pos >= 0; pos-- {
		b := int(e[pos/8]>>uint(pos&7)) & 1
		swap ^= b
		x2.Swap(&x3, swap)
		z2.Swap(&z3, swap)
		swap = b
		tmp0.Subtract(&x3, &z3)
		tmp1.Subtract(&x2, &z2)
		x2.Add(&x2, &z2)
		z2.Add(&x3, &z3)
		z3.Multiply(&tmp0, &x2)
		z2.Multiply(&z2, &tmp1)
		tmp0.Square(&tmp1)
		tmp1.Square(&x2)
		x3.Add(&z3, &z2)
		z2.Subtract(&z3, &z2)
		x2.Multiply(&tmp1, &tmp0)
		tmp1.Subtract(&tmp1, &tmp0)
		z2.Square(&z2)
		z3.Mult32(&tmp1, 121666)
		x3.Square(&x3)
		tmp0.Add(&tmp0, &z3)
		z3.Multiply(&x1, &z2)
		z2.Multiply(&tmp1, &tmp0)
	}
	x2.Swap(&x3, swap)
	z2.Swap(&z3, swap)
	z2.Invert(&z2)
	x2.Multiply(&x2, &z2)
	out := x2.Bytes()
	if subtle.ConstantTimeCompare(out, make([]byte, 32)) == 1 {
		return nil, errors.New("agefile: X25519: low-order point")
	}
	return out, nil
}

// bech32Decode decodes a lower-case Bech32 string (BIP 173), as age
// writes its recipients.
func bech32Decode(s string) (string, []byte, error) {
	const charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
	if strings.ToLower(s) != s {
		return "", nil, errors.New("agefile: bech32: not lower case")
	}
	pos := strings.LastIndexByte(s, '1')
	if pos < 1 || pos+7 > len(s) {
		return "", nil, errors.New("agefile: bech32: no separator or too short")
	}
	hrp := s[:pos]
	var values []byte
	for i := pos + 1; i < len(s); i++ {
		v := strings.IndexByte(charset, s[i])
		if v < 0 {
			return "", nil, fmt.Errorf("agefile: bech32: invalid character %q", s[i])
		}
		values = append(values, byte(v))
	}
	// The checksum: polymod over the expanded prefix and the data is 1.
	chk := uint32(1)
	mod := func(v byte) {
		gen := [5]uint32{0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3}
		top := chk >> 25
		chk = (chk&0x1ffffff)<<5 ^ uint32(v)
		for i := 0; i < 5; i++ {
			if (top>>i)&1 == 1 {
				chk ^= gen[i]
			}
		}
	}
	for i := 0; i < len(hrp); i++ {
		mod(hrp[i] >> 5)
	}
	mod(0)
	for i := 0; i < len(hrp); i++ {
		mod(hrp[i] & 31)
	}
	for _, v := range values {
		mod(v)
	}
	if chk != 1 {
		return "", nil, errors.New("agefile: bech32: bad checksum")
	}
	values = values[:len(values)-6]
	// 5-bit groups to bytes; the padding must be zero bits.
	var out []byte
	acc, bits := uint32(0), 0
	for _, v := range values {
		acc = acc<<5 | uint32(v)
		bits += 5
		for bits >= 8 {
			bits -= 8
			out = append(out, byte(acc>>bits))
		}
	}
	if bits >= 5 || acc&(1<<bits-1) != 0 {
		return "", nil, errors.New("agefile: bech32: bad padding")
	}
	return hrp, out, nil
}

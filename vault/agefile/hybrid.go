package agefile

import (
	"crypto/hkdf"
	"crypto/mlkem"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha3"
	"encoding/base64"
	"fmt"

	"filippo.io/age"
	"filippo.io/edwards25519"
	"golang.org/x/crypto/chacha20poly1305"
)

// hybrid is an age hybrid post-quantum recipient (age1pq1..., stanza
// "mlkem768x25519": HPKE with the MLKEM768-X25519 KEM, HKDF-SHA-256 and
// ChaCha20-Poly1305, info "age-encryption.org/mlkem768x25519"), sealing as
// filippo.io/age's HybridRecipient does with less work per file:
//   - the ML-KEM-768 encapsulation key is parsed once (crypto/mlkem
//     expands its matrix when the key is made), as age does;
//   - the X25519 ephemeral share comes from the Edwards curve's
//     precomputed base-point table, and the shared secret from one ladder
//     (age's HPKE sender runs two: crypto/ecdh computes the ephemeral
//     public key with a ladder);
//   - the HPKE key schedule's constant parts (suite ID, the hashes of the
//     empty PSK ID and of the info, the key schedule context) are computed
//     once per process; per file remain one extract and two expands.
type hybrid struct {
	ek   *mlkem.EncapsulationKey768
	pub  [32]byte // the X25519 half of the public key
	text string
}

const (
	hybridHRP    = "age1pq"
	hybridStanza = "mlkem768x25519"
	hybridInfo   = "age-encryption.org/mlkem768x25519"
	// xwingLabel is MLKEM768-X25519's label in its shared secret
	// (draft-ietf-hpke-pq, X-Wing).
	xwingLabel = `\./` + `/^\`
)

// hpkeSuite is "HPKE" || KEM 0x647a (MLKEM768-X25519) || KDF 0x0001
// (HKDF-SHA256) || AEAD 0x0003 (ChaCha20Poly1305).
var hpkeSuite = []byte{'H', 'P', 'K', 'E', 0x64, 0x7a, 0x00, 0x01, 0x00, 0x03}

// hpkeKeyInfo and hpkeNonceInfo are the labeled infos of the key
// schedule's two expands (RFC 9180, mode base): the same for every file.
var hpkeKeyInfo, hpkeNonceInfo = func() (string, string) {
	labeledExtract := func(salt []byte, label string, ikm []byte) []byte {
		k, _ := hkdf.Extract(sha256.New, append(append(append([]byte("HPKE-v1"), hpkeSuite...), label...), ikm...), salt)
		return k
	}
	ctx := append([]byte{0}, labeledExtract(nil, "psk_id_hash", nil)...)
	ctx = append(ctx, labeledExtract(nil, "info_hash", []byte(hybridInfo))...)
	info := func(length uint16, label string) string {
		b := []byte{byte(length >> 8), byte(length)}
		b = append(append(append(append(b, "HPKE-v1"...), hpkeSuite...), label...), ctx...)
		return string(b)
	}
	return info(chacha20poly1305.KeySize, "key"), info(chacha20poly1305.NonceSize, "base_nonce")
}()

// hpkeSecretIKM is the labeled input of the "secret" extract (an empty
// PSK).
var hpkeSecretIKM = append(append([]byte("HPKE-v1"), hpkeSuite...), "secret"...)

func newHybrid(s string) (*hybrid, error) {
	hrp, data, err := bech32Decode(s)
	if err != nil {
		return nil, err
	}
	if hrp != hybridHRP || len(data) != mlkem.EncapsulationKeySize768+32 {
		return nil, fmt.Errorf("agefile: %q is not a hybrid recipient", s)
	}
	ek, err := mlkem.NewEncapsulationKey768(data[:mlkem.EncapsulationKeySize768])
	if err != nil {
		return nil, fmt.Errorf("agefile: hybrid recipient: %w", err)
	}
	r := &hybrid{ek: ek, text: s}
	copy(r.pub[:], data[mlkem.EncapsulationKeySize768:])
	return r, nil
}

func (r *hybrid) String() string { return r.text }

// Wrap implements age.Recipient.
func (r *hybrid) Wrap(fileKey []byte) ([]*age.Stanza, error) {
	s, _, err := r.WrapWithLabels(fileKey)
	return s, err
}

// WrapWithLabels implements age.RecipientWithLabels with age's
// "postquantum" label: a hybrid recipient is never mixed with classical
// ones (which would make the file no stronger than them).
func (r *hybrid) WrapWithLabels(fileKey []byte) ([]*age.Stanza, []string, error) {
	// The KEM (MLKEM768-X25519): an ML-KEM-768 encapsulation and an
	// ephemeral X25519 exchange, combined with SHA3-256.
	ssPQ, ctPQ := r.ek.Encapsulate()
	var e [32]byte
	rand.Read(e[:])
	sc, err := edwards25519.NewScalar().SetBytesWithClamping(e[:])
	if err != nil {
		return nil, nil, err
	}
	ctT := new(edwards25519.Point).ScalarBaseMult(sc).BytesMontgomery()
	ssT, err := x25519Ladder(e[:], r.pub[:])
	clear(e[:])
	if err != nil {
		return nil, nil, err
	}
	h := sha3.New256()
	h.Write(ssPQ)
	h.Write(ssT)
	h.Write(ctT)
	h.Write(r.pub[:])
	h.Write([]byte(xwingLabel))
	shared := h.Sum(nil)
	// The HPKE key schedule (mode base) and the one Seal of the context.
	secret, err := hkdf.Extract(sha256.New, hpkeSecretIKM, shared)
	if err != nil {
		return nil, nil, err
	}
	key, err := hkdf.Expand(sha256.New, secret, hpkeKeyInfo, chacha20poly1305.KeySize)
	if err != nil {
		return nil, nil, err
	}
	nonce, err := hkdf.Expand(sha256.New, secret, hpkeNonceInfo, chacha20poly1305.NonceSize)
	if err != nil {
		return nil, nil, err
	}
	aead, err := chacha20poly1305.New(key)
	if err != nil {
		return nil, nil, err
	}
	body := aead.Seal(nil, nonce, fileKey, nil)
	enc := make([]byte, 0, len(ctPQ)+len(ctT))
	enc = append(append(enc, ctPQ...), ctT...)
	st := &age.Stanza{Type: hybridStanza, Args: []string{base64.RawStdEncoding.EncodeToString(enc)}, Body: body}
	return []*age.Stanza{st}, []string{"postquantum"}, nil
}

var _ age.RecipientWithLabels = (*hybrid)(nil)

// Check reports whether rs can seal a file together: at least one, and
// hybrid post-quantum recipients never mixed with classical ones (age
// refuses that mix: the file would be no stronger than its weakest
// stanza). It wraps a throw-away key once per recipient.
func Check(rs []age.Recipient) error {
	_, err := header(make([]byte, fileKeySize), rs)
	return err
}

// Header returns an age header wrapping fileKey to rs, as age.Encrypt
// writes it (stanzas and MAC); the archive's re-seal job re-wraps a
// stored file's key with it.
func Header(fileKey []byte, rs []age.Recipient) ([]byte, error) {
	if len(fileKey) != fileKeySize {
		return nil, fmt.Errorf("agefile: file key of %d bytes, want %d", len(fileKey), fileKeySize)
	}
	return header(fileKey, rs)
}

package wire

import (
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"
)

// PathEnroll is zero-touch enrollment: the one path a box may use without
// a client certificate (sync/doc.go, Enrollment).
const PathEnroll = "/sync/v1/enroll"

// MaxEnrollMessage bounds an enrollment request: it is read from anyone
// who can reach the archive, so the bound is small.
const MaxEnrollMessage = 16 << 10

// Enrollment states in EnrollReply.State.
const (
	EnrollPending  = "pending"  // waiting for an admin to approve the code
	EnrollApproved = "approved" // certificates and settings in the reply
)

// EnrollRequest is a new box's request for its certificates: PKCS#10
// requests (DER) for its sync key, whose public key the enrollment code
// is derived from (EnrollCode), and for its local API's key. Each is
// signed by its key. Hosts are IP addresses the box asks to have in its
// API certificate (the archive keeps only addresses that are not its own).
type EnrollRequest struct {
	CSR    []byte   `json:"csr"`
	APICSR []byte   `json:"api_csr"`
	Hosts  []string `json:"hosts,omitempty"`
}

// EnrollSync is the sync configuration an approved box receives.
type EnrollSync struct {
	Archives     []string `json:"archives"`
	Window       string   `json:"window,omitempty"`
	Rate         int64    `json:"rate,omitempty"`           // bytes per second, 0: no cap
	CheckInEvery int64    `json:"check_in_every,omitempty"` // seconds
}

// EnrollReply is the archive's answer: pending (the code to approve, and
// when the request expires), or approved with the box's name, its sync
// and API certificates (DER), the CA certificate (DER), the anchor log's
// verifier key, the policy signing key and the sync settings.
type EnrollReply struct {
	State     string     `json:"state"`
	Code      string     `json:"code"`
	ExpiresAt time.Time  `json:"expires_at,omitzero"`
	Name      string     `json:"name,omitempty"`
	Cert      []byte     `json:"cert,omitempty"`
	APICert   []byte     `json:"api_cert,omitempty"`
	CA        []byte     `json:"ca,omitempty"`
	AnchorKey string     `json:"anchor_key,omitempty"`
	PolicyKey string     `json:"policy_key,omitempty"`
	UpdateKey string     `json:"update_key,omitempty"`
	Sync      EnrollSync `json:"sync"`
}

// Validate checks an enrollment request's size-bounded fields (the
// signatures are the archive's to check).
func (r *EnrollRequest) Validate() error {
	if len(r.CSR) == 0 || len(r.APICSR) == 0 {
		return errors.New("enroll: csr and api_csr are required")
	}
	if len(r.Hosts) > 8 {
		return errors.New("enroll: more than 8 hosts")
	}
	for _, h := range r.Hosts {
		if h == "" || len(h) > 253 || strings.ContainsAny(h, " \t\r\n/") {
			return fmt.Errorf("enroll: host %q", h)
		}
	}
	return nil
}

// codeAlphabet is Crockford's base 32: no I, L, O or U, so that a code
// read off a screen and typed is not misread.
const codeAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// EnrollCodeLen is the number of characters of an enrollment code (5 bits
// each: 80 bits, beyond finding a key whose code matches another box's).
const EnrollCodeLen = 16

// EnrollCode is the enrollment code of a box's sync key: the first 80
// bits of SHA-256("spanvault enroll\n" || SubjectPublicKeyInfo), in
// Crockford base 32, in groups of four ("7K2M-...").
func EnrollCode(pub any) (string, error) {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("enroll: %w", err)
	}
	sum := sha256.Sum256(append([]byte("spanvault enroll\n"), spki...))
	var b strings.Builder
	var acc uint64
	bits := 0
	n := 0
	for _, c := range sum {
		acc = acc<<8 | uint64(c)
		bits += 8
		for bits >= 5 && n < EnrollCodeLen {
			bits -= 5
			if n > 0 && n%4 == 0 {
				b.WriteByte('-')
			}
			b.WriteByte(codeAlphabet[(acc>>bits)&31])
			n++
		}
		if n == EnrollCodeLen {
			break
		}
	}
	return b.String(), nil
}

// NormalizeCode reads a code as a person typed it: case, dashes and
// spaces do not matter, O is read as 0 and I or L as 1. It returns "" for
// anything that is not a whole code.
func NormalizeCode(s string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		switch r {
		case '-', ' ', '\t':
			continue
		case 'O':
			r = '0'
		case 'I', 'L':
			r = '1'
		}
		if !strings.ContainsRune(codeAlphabet, r) {
			return ""
		}
		b.WriteRune(r)
	}
	if b.Len() != EnrollCodeLen {
		return ""
	}
	c := b.String()
	return c[0:4] + "-" + c[4:8] + "-" + c[8:12] + "-" + c[12:16]
}

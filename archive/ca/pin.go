package ca

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
)

// Fingerprint is what the archive pins of an appliance's certificate: its
// serial (lower-case hex) and the SHA-256 (hex) of its public key.
func Fingerprint(cert *x509.Certificate) (serial, key string) {
	h := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return cert.SerialNumber.Text(16), hex.EncodeToString(h[:])
}

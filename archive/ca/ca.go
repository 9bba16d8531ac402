// Package ca is the archive's private certificate authority: it makes the
// root at init, the archive's server certificate, and the short-lived
// client certificates that are the appliances' identities.
//
// Invariants:
//   - The root key never leaves the archive's directory (mode 0600).
//   - An appliance's identity is the single DNS name in its certificate's
//     subject alternative names (also its common name); the archive
//     checks it on every request.
//   - Appliance certificates are short-lived (Lifetime); the appliance
//     renews over the same mutual-TLS channel at about two thirds of the
//     lifetime, and may still renew within RenewAfterExpiry after its
//     certificate expired (a box that was offline for weeks).
//   - A valid certificate of this CA is necessary, not sufficient: the
//     archive's index pins each appliance's current certificate (serial
//     and public key, Fingerprint) and refuses any other for that name,
//     and refuses revoked serials for good; revocation (by name and by
//     serial) is checked on every request, renewal included.
package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/spanvault/spanvault/internal/keyfile"
)

// CA is an open certificate authority.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	Pool *x509.CertPool
	// Now is the clock (tests move it).
	Now func() time.Time
}

// Files in the CA's directory.
const (
	CertFile = "ca.crt"
	KeyFile  = "ca.key"
)

// Create makes a new root in dir (which must not hold one).
func Create(dir, name string) (*CA, error) {
	if _, err := os.Stat(filepath.Join(dir, KeyFile)); err == nil {
		return nil, fmt.Errorf("ca: %s already holds a CA", dir)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name + " spanvault archive CA", Organization: []string{"spanvault"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(20, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	if err := WriteKey(filepath.Join(dir, KeyFile), key); err != nil {
		return nil, err
	}
	if err := WriteCert(filepath.Join(dir, CertFile), der); err != nil {
		return nil, err
	}
	return Load(dir)
}

// Load opens the CA in dir.
func Load(dir string) (*CA, error) {
	cert, err := ReadCert(filepath.Join(dir, CertFile))
	if err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	key, err := ReadKey(filepath.Join(dir, KeyFile))
	if err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &CA{Cert: cert, Key: key, Pool: pool, Now: time.Now}, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

// Kind of certificate to issue.
type Kind int

const (
	Client Kind = iota // an appliance's identity for sync
	Server             // a TLS server (the archive, a box's local API)
)

// Issue signs a certificate for pub naming name (a DNS name; for servers,
// IP addresses in hosts are added as IP SANs, names as DNS SANs).
func (c *CA) Issue(kind Kind, name string, hosts []string, pub crypto.PublicKey, lifetime time.Duration) ([]byte, error) {
	if name == "" {
		return nil, errors.New("ca: empty name")
	}
	now := c.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: name, Organization: []string{"spanvault"}},
		NotBefore:    now.Add(-5 * time.Minute),
		NotAfter:     now.Add(lifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		DNSNames:     []string{name},
	}
	switch kind {
	case Client:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	case Server:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		for _, h := range hosts {
			if ip := net.ParseIP(h); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			} else if h != name {
				tmpl.DNSNames = append(tmpl.DNSNames, h)
			}
		}
	}
	return x509.CreateCertificate(rand.Reader, tmpl, c.Cert, pub, c.Key)
}

// NewKey makes a P-256 key.
func NewKey() (*ecdsa.PrivateKey, error) { return keyfile.NewKey() }

// Name returns the identity a certificate carries: its single DNS SAN.
func Name(cert *x509.Certificate) (string, error) {
	if len(cert.DNSNames) == 0 {
		return "", errors.New("certificate names no appliance (no DNS name)")
	}
	return cert.DNSNames[0], nil
}

// VerifyClient checks an appliance certificate against the CA. A
// certificate that expired less than grace ago verifies, and expired
// reports it: the caller then allows renewal only.
func (c *CA) VerifyClient(cert *x509.Certificate, grace time.Duration) (expired bool, err error) {
	now := c.Now()
	at := now
	if now.After(cert.NotAfter) {
		if now.Sub(cert.NotAfter) > grace {
			return true, fmt.Errorf("certificate of %q expired at %s, beyond the renewal bound of %s", cert.Subject.CommonName, cert.NotAfter.UTC().Format(time.RFC3339), grace)
		}
		expired = true
		at = cert.NotAfter.Add(-time.Second)
	}
	_, err = cert.Verify(x509.VerifyOptions{
		Roots:       c.Pool,
		CurrentTime: at,
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return expired, fmt.Errorf("certificate of %q not issued by this archive's CA: %w", cert.Subject.CommonName, err)
	}
	return expired, nil
}

// WriteKey writes a private key as PKCS#8 PEM, mode 0600 (keyfile).
func WriteKey(path string, key crypto.Signer) error { return keyfile.WriteKey(path, key) }

// WriteCert writes a certificate as PEM, mode 0644 (keyfile).
func WriteCert(path string, der []byte) error { return keyfile.WriteCert(path, der) }

// ReadCert reads the first certificate of a PEM file (keyfile).
func ReadCert(path string) (*x509.Certificate, error) { return keyfile.ReadCert(path) }

// ReadKey reads a PKCS#8 PEM private key (keyfile).
func ReadKey(path string) (crypto.Signer, error) { return keyfile.ReadKey(path) }

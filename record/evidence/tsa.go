package evidence

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/digitorus/timestamp"
)

// untrustedTSA ends the signer's name RFC3161 returns when no trusted
// roots were given: Verify reports such a time-stamp as unverified.
const untrustedTSA = " (certificate not checked against a trusted one)"

// RFC3161 returns a time-stamp checker for Options.CheckTimestamp: the
// token's CMS signature must verify with the certificate it carries, be
// over the digest with SHA-256, and that certificate must be one for
// time-stamping that chains to roots at the attested time. With roots
// nil the certificate is not checked against a trusted one (the report
// names who signed, for the reader to compare).
func RFC3161(roots *x509.CertPool) func(token []byte, digest [32]byte) (time.Time, string, error) {
	return func(token []byte, digest [32]byte) (time.Time, string, error) {
		certs, err := strictToken(token)
		if err != nil {
			return time.Time{}, "", fmt.Errorf("token: %w", err)
		}
		ts, err := timestamp.Parse(token)
		if err != nil {
			return time.Time{}, "", fmt.Errorf("token: %w", err)
		}
		if len(ts.Certificates) == 0 {
			return time.Time{}, "", errors.New("token carries no certificate to check its signature with")
		}
		if ts.HashAlgorithm != crypto.SHA256 || !bytes.Equal(ts.HashedMessage, digest[:]) {
			return time.Time{}, "", errors.New("token is not over the SHA-256 of this checkpoint")
		}
		cert := certs[0]
		by := cert.Subject.String()
		if roots == nil {
			if len(certs) != 1 {
				return time.Time{}, "", fmt.Errorf("token carries %d certificates and no trusted root was given to check them with", len(certs))
			}
			return ts.Time, by + untrustedTSA, nil
		}
		inter := x509.NewCertPool()
		for _, c := range certs[1:] {
			inter.AddCert(c)
		}
		chains, err := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: ts.Time, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}})
		if err != nil {
			return time.Time{}, "", fmt.Errorf("the authority's certificate %s: %w", by, err)
		}
		// Every certificate carried is the signer's or on its chain.
		for _, c := range certs[1:] {
			if !slices.ContainsFunc(chains[0], c.Equal) {
				return time.Time{}, "", fmt.Errorf("token carries certificate %s, not on the authority's chain", c.Subject)
			}
		}
		return ts.Time, by, nil
	}
}

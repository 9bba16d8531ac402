package appliance

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// apiCertificate returns the local API's certificate: api.cert/api.key
// when configured, else the one enrollment issued (sync.api_cert), else a
// self-signed one made at first start in the vault directory (0600),
// whose SHA-256 fingerprint the status page and the log show so that a
// desk can pin it until the box is enrolled.
func (a *Appliance) apiCertificate() (tls.Certificate, string, error) {
	cert, key := a.cfg.API.Cert, a.cfg.API.Key
	if cert == "" && a.cfg.Sync.APICert != "" {
		cert, key = a.cfg.Sync.APICert, a.cfg.Sync.APIKey
	}
	source := "configured"
	if cert == "" {
		cert, key = filepath.Join(a.cfg.Vault.Dir, "api.crt"), filepath.Join(a.cfg.Vault.Dir, "api.key")
		source = "self-signed"
		if _, err := os.Stat(cert); errors.Is(err, os.ErrNotExist) {
			if err := selfSigned(cert, key); err != nil {
				return tls.Certificate{}, "", fmt.Errorf("api: self-signed certificate: %w", err)
			}
		}
	}
	c, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		return tls.Certificate{}, "", fmt.Errorf("api: certificate %s: %w", cert, err)
	}
	sum := sha256.Sum256(c.Certificate[0])
	fp := hex.EncodeToString(sum[:])
	a.log.Info("local API certificate", "source", source, "sha256", fp)
	return c, fp, nil
}

func selfSigned(certPath, keyPath string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "spanvault " + host, Organization: []string{"spanvault"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost", host},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, ad := range addrs {
			if ipn, ok := ad.(*net.IPNet); ok && !ipn.IP.IsLoopback() {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ipn.IP)
			}
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return err
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
}

// APIHandler is the local API (served over TLS only).
func (a *Appliance) APIHandler() http.Handler {
	mux := http.NewServeMux()
	a.api(mux)
	return securityHeaders(mux)
}

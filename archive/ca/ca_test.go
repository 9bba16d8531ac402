package ca_test

import (
	"crypto/x509"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive/ca"
)

// t0 is the CA's injected clock: the time the tests run (whole seconds,
// as certificates keep), because ca.Create makes the CA's own certificate
// by the real clock (valid from an hour before it) and a chain is
// verified at the injected time. A fixed date failed once the real clock
// was more than an hour past it.
var t0 = time.Now().UTC().Truncate(time.Second)

func newCA(t *testing.T) *ca.CA {
	t.Helper()
	c, err := ca.Create(t.TempDir(), "test")
	if err != nil {
		t.Fatal(err)
	}
	c.Now = func() time.Time { return t0 }
	return c
}

func issue(t *testing.T, c *ca.CA, kind ca.Kind, name string, hosts []string, lifetime time.Duration) *x509.Certificate {
	t.Helper()
	key, err := ca.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	der, err := c.Issue(kind, name, hosts, key.Public(), lifetime)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// The root: its key 0600 in its directory, never made twice, loaded back
// as it was made.
func TestCreateLoad(t *testing.T) {
	dir := t.TempDir()
	c, err := ca.Create(dir, "branch")
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, ca.KeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("root key: %v, %v", fi.Mode(), err)
	}
	if !c.Cert.IsCA || !c.Cert.MaxPathLenZero || c.Cert.Subject.CommonName != "branch spanvault archive CA" {
		t.Errorf("root %+v", c.Cert.Subject)
	}
	if _, err := ca.Create(dir, "branch"); err == nil || !strings.Contains(err.Error(), "already holds a CA") {
		t.Errorf("a second root in the same directory: %v", err)
	}
	back, err := ca.Load(dir)
	if err != nil || !back.Cert.Equal(c.Cert) {
		t.Fatalf("load: %v", err)
	}
	if _, err := ca.Load(t.TempDir()); err == nil {
		t.Error("an empty directory loads as a CA")
	}
}

func TestIssue(t *testing.T) {
	c := newCA(t)
	for _, tc := range []struct {
		name  string
		kind  ca.Kind
		cn    string
		hosts []string
		dns   []string
		ips   []string
		eku   x509.ExtKeyUsage
	}{
		{"appliance", ca.Client, "branch-1", []string{"10.0.0.1", "other"}, []string{"branch-1"}, nil, x509.ExtKeyUsageClientAuth},
		{"server", ca.Server, "archive.example", []string{"archive.example", "10.0.0.9", "::1", "alt.example"}, []string{"archive.example", "alt.example"}, []string{"10.0.0.9", "::1"}, x509.ExtKeyUsageServerAuth},
		{"server without hosts", ca.Server, "box", nil, []string{"box"}, nil, x509.ExtKeyUsageServerAuth},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cert := issue(t, c, tc.kind, tc.cn, tc.hosts, 30*24*time.Hour)
			var ips []string
			for _, ip := range cert.IPAddresses {
				ips = append(ips, ip.String())
			}
			if cert.Subject.CommonName != tc.cn || !slices.Equal(cert.DNSNames, tc.dns) || !slices.Equal(ips, tc.ips) ||
				!slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{tc.eku}) {
				t.Errorf("CN %q DNS %v IP %v EKU %v", cert.Subject.CommonName, cert.DNSNames, ips, cert.ExtKeyUsage)
			}
			if !cert.NotBefore.Equal(t0.Add(-5*time.Minute)) || !cert.NotAfter.Equal(t0.Add(30*24*time.Hour)) {
				t.Errorf("valid %v to %v", cert.NotBefore, cert.NotAfter)
			}
			if name, err := ca.Name(cert); err != nil || name != tc.cn {
				t.Errorf("Name = %q, %v", name, err)
			}
		})
	}
	key, _ := ca.NewKey()
	if _, err := c.Issue(ca.Client, "", nil, key.Public(), time.Hour); err == nil {
		t.Error("a certificate without a name was issued")
	}
	if _, err := ca.Name(&x509.Certificate{}); err == nil {
		t.Error("a certificate without a DNS name has a name")
	}
}

// VerifyClient by the CA's clock: a renewal window after expiry, nothing
// beyond it, nothing of another CA or for another use.
func TestVerifyClient(t *testing.T) {
	c := newCA(t)
	other := newCA(t)
	const lifetime, grace = 30 * 24 * time.Hour, 90 * 24 * time.Hour
	client := issue(t, c, ca.Client, "branch-1", nil, lifetime)
	server := issue(t, c, ca.Server, "branch-1", nil, lifetime)
	foreign := issue(t, other, ca.Client, "branch-1", nil, lifetime)
	for _, tc := range []struct {
		name    string
		cert    *x509.Certificate
		at      time.Time
		expired bool
		err     string
	}{
		{"valid", client, t0.Add(time.Hour), false, ""},
		{"at its last second", client, t0.Add(lifetime), false, ""},
		{"expired, within the renewal bound", client, t0.Add(lifetime + grace - time.Second), true, ""},
		{"expired beyond the renewal bound", client, t0.Add(lifetime + grace + time.Second), true, "beyond the renewal bound"},
		{"not yet valid", client, t0.Add(-time.Hour), false, "not issued by this archive's CA"},
		{"another CA's", foreign, t0.Add(time.Hour), false, "not issued by this archive's CA"},
		{"a server certificate", server, t0.Add(time.Hour), false, "not issued by this archive's CA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.Now = func() time.Time { return tc.at }
			expired, err := c.VerifyClient(tc.cert, grace)
			if expired != tc.expired || (tc.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.err) {
				t.Errorf("VerifyClient = %v, %v; want %v, %q", expired, err, tc.expired, tc.err)
			}
		})
	}
}

// Fingerprint is what the index pins: the serial in lower-case hex and
// the SHA-256 of the public key's encoding.
func TestFingerprint(t *testing.T) {
	for _, tc := range []struct {
		serial     *big.Int
		spki       []byte
		wantSerial string
		wantKey    string
	}{
		{big.NewInt(0xABC), []byte("spki"), "abc", "6feecc8c16c5551d9feb3eb5f77e2da773bf68bd9ef9c52927ceb2c86e56892b"},
		{big.NewInt(1), nil, "1", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	} {
		s, k := ca.Fingerprint(&x509.Certificate{SerialNumber: tc.serial, RawSubjectPublicKeyInfo: tc.spki})
		if s != tc.wantSerial || k != tc.wantKey {
			t.Errorf("Fingerprint = %s %s; want %s %s", s, k, tc.wantSerial, tc.wantKey)
		}
	}
}

package archive_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/ca"
	"github.com/spanvault/spanvault/sync/wire"
)

// FuzzIngest sends whatever a box could send, as an enrolled box, to every
// ingest endpoint of a real archive: it must answer (never panic) and stay
// verifiable.
func FuzzIngest(f *testing.F) {
	dir := filepath.Join(f.TempDir(), "a")
	if err := archive.Init(dir, archive.InitOptions{Name: "fuzz", Listen: "127.0.0.1:0"}); err != nil {
		f.Fatal(err)
	}
	a, err := archive.Open(dir)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { a.Close() })
	a.Logger = slog.New(slog.DiscardHandler)
	if _, err := a.Enroll(context.Background(), "box", filepath.Join(f.TempDir(), "e"), nil); err != nil {
		f.Fatal(err)
	}
	h := a.Handler()
	paths := []string{wire.PathCheckIn, wire.PathAudit, wire.PathRecords, wire.PathRenew, wire.PathObjects + strings.Repeat("ab", 32)}
	seeds := []string{
		`{"appliance":"box","time":"2026-01-01T00:00:00Z"}`,
		`{"entries":[{"seq":1,"time":"2026-01-01T00:00:00Z","action":"x","prev":"","hash":"00"}],"head":{"seq":1,"hash":"00"},"key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}`,
		`{"records":[{"id":"06a","kind":"recording","start":"2026-01-01T00:00:00Z","class":"c","hold":false,"recorded":true,"size":5,"sha256":"` + strings.Repeat("ab", 32) + `","entry":{}}]}`,
		`{"csr":"AAAA"}`,
	}
	for i, s := range seeds {
		f.Add(uint8(i), []byte(s), int64(0), int64(5))
	}
	leaf := enrolledCert(f, a)
	f.Fuzz(func(t *testing.T, which uint8, body []byte, off, length int64) {
		p := paths[int(which)%len(paths)]
		method := http.MethodPost
		if strings.HasPrefix(p, wire.PathObjects) {
			method = http.MethodPatch
		}
		r := httptest.NewRequest(method, "https://archive"+p, bytes.NewReader(body))
		r.Header.Set(wire.HeaderOffset, itoa(off))
		r.Header.Set(wire.HeaderLength, itoa(length))
		r.TLS = &tls.ConnectionState{Version: tls.VersionTLS13, PeerCertificates: []*x509.Certificate{leaf}}
		w := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(w, r)
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("%s took %v", p, d)
		}
		if w.Code < 200 || w.Code > 599 {
			t.Fatalf("status %d", w.Code)
		}
	})
}

func itoa(n int64) string {
	if n < 0 {
		return "-" + itoa(-n)
	}
	const digits = "0123456789"
	if n < 10 {
		return digits[n : n+1]
	}
	return itoa(n/10) + digits[n%10:n%10+1]
}

// enrolledCert issues a client certificate for "box" from the archive's CA.
func enrolledCert(f *testing.F, a *archive.Archive) *x509.Certificate {
	key, _ := ca.NewKey()
	der, err := a.CA.Issue(ca.Client, "box", nil, key.Public(), 24*time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		f.Fatal(err)
	}
	return c
}

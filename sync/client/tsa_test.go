package client_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/digitorus/timestamp"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/record/evidence"
)

// localTSA is an RFC 3161 time-stamping authority on loopback, built
// from github.com/digitorus/timestamp: its own root, a time-stamping
// certificate under it, and a fixed clock.
func localTSA(t testing.TB, at time.Time) (url string, roots *x509.CertPool) {
	t.Helper()
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rootTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test TSA root"}, NotBefore: at.Add(-time.Hour), NotAfter: at.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := x509.ParseCertificate(rootDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "test TSA"}, NotBefore: at.Add(-time.Hour), NotAfter: at.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, root, &key.PublicKey, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		req, err := timestamp.ParseRequest(body)
		if err != nil || r.Header.Get("Content-Type") != "application/timestamp-query" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		ts := timestamp.Timestamp{HashAlgorithm: req.HashAlgorithm, HashedMessage: req.HashedMessage, Time: at, Nonce: req.Nonce,
			Policy: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}, AddTSACertificate: req.Certificates, SerialNumber: big.NewInt(7)}
		resp, err := ts.CreateResponseWithOpts(cert, key, crypto.SHA256)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/timestamp-reply")
		w.Write(resp)
	}))
	t.Cleanup(srv.Close)
	roots = x509.NewCertPool()
	roots.AddCert(root)
	return srv.URL, roots
}

// TestEvidenceTimestampFromLocalTSA: with a configured time-stamping
// authority the bundle carries its RFC 3161 token over the checkpoint;
// the verifier checks it against the authority's root and says when the
// checkpoint existed; a byte changed anywhere in the token, or a root
// other than the authority's, makes it fail naming the timestamp.
func TestEvidenceTimestampFromLocalTSA(t *testing.T) {
	e := newEnv(t)
	_, ids := e.ledgerDay(t, 2)
	at := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	url, roots := localTSA(t, at)
	b, err := e.arch.Evidence(context.Background(), e.box, ids[0], archive.RFC3161(url, nil))
	if err != nil {
		t.Fatal(err)
	}
	opt := evidence.Options{LogKey: e.arch.Log.VerifierKey(), CheckTimestamp: evidence.RFC3161(roots)}
	rep, err := evidence.Verify(b, opt)
	if err != nil {
		t.Fatalf("timestamped bundle: %v", err)
	}
	if !rep.TimestampTime.Equal(at) || len(rep.Proven) != 6 || rep.TimestampBy != "CN=test TSA" {
		t.Fatalf("report: %v %q %q", rep.TimestampTime, rep.TimestampBy, rep.Proven)
	}
	_, otherRoots := localTSA(t, at)
	if _, err := evidence.Verify(b, evidence.Options{CheckTimestamp: evidence.RFC3161(otherRoots)}); !isBroken(err, "timestamp") {
		t.Fatalf("another authority's root: %v", err)
	}
	if _, err := evidence.Verify(b, evidence.Options{}); !isBroken(err, "timestamp") {
		t.Fatalf("no checker: %v", err)
	}
	at2, _ := evidence.Sections(b)
	r := at2["timestamp"]
	for pos := r[0]; pos < r[1]; pos++ {
		c := slices.Clone(b)
		c[pos] ^= 0x01
		if _, err := evidence.Verify(c, opt); !isBroken(err, "timestamp") {
			t.Fatalf("byte %d of the %d-byte token changed: %v", pos-r[0], r[1]-r[0], err)
		}
	}
}

func isBroken(err error, proof string) bool {
	var be *evidence.BrokenError
	return errors.As(err, &be) && be.Proof == proof
}

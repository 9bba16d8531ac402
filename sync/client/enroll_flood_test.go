package client_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/sync/wire"
)

// floodRequest is an enrollment request with a fresh sync key (a new
// code each time), as a flooding attacker sends it.
func floodRequest(t *testing.T, api []byte) []byte {
	t.Helper()
	_, k, _ := ed25519.GenerateKey(rand.Reader)
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "flood"}}, k)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(wire.EnrollRequest{CSR: csr, APICSR: api})
	return b
}

// TestEnrollFloodFromOnePrefix (finding M4): an attacker in one IPv6 /64
// sends enrollment requests from 1,100 of its addresses, each with a new
// key, slowly enough for the overall rate limit; a real box from another
// prefix still enrolls (real TLS, pinned CA), and keeps its request alive
// by asking again while the admin takes hours to approve it; the
// attacker's requests, not asked again, expire within EnrollIdle.
func TestEnrollFloodFromOnePrefix(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	h := e.arch.Handler()
	_, ak, _ := ed25519.GenerateKey(rand.Reader)
	api, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "flood api"}}, ak)
	if err != nil {
		t.Fatal(err)
	}
	statuses := map[int]int{}
	var codes []string
	for i := range 1100 {
		r := httptest.NewRequest(http.MethodPost, "https://archive"+wire.PathEnroll, bytes.NewReader(floodRequest(t, api)))
		r.RemoteAddr = fmt.Sprintf("[2001:db8:1:2::%x]:40000", i+1)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		statuses[w.Code]++
		if w.Code == http.StatusAccepted {
			var rep wire.EnrollReply
			_ = json.Unmarshal(w.Body.Bytes(), &rep)
			codes = append(codes, rep.Code)
		}
		if i%10 == 9 {
			e.clock.Add(time.Second)
		}
	}
	if len(codes) > archive.MaxPendingPerPrefix {
		t.Errorf("one /64 holds %d pending requests (statuses %v), at most %d allowed", len(codes), statuses, archive.MaxPendingPerPrefix)
	}
	cfg := e.enrollConfig(t)
	st, err := enrollOnce(t, cfg)
	if err != nil || st.State != wire.EnrollPending {
		t.Fatalf("a box from another prefix after the flood (statuses %v): %+v %v", statuses, st, err)
	}
	// The admin takes three hours; the box asks again meanwhile (as its
	// enroll loop does every poll_every).
	for range 6 {
		e.clock.Add(30 * time.Minute)
		if st, err = enrollOnce(t, cfg); err != nil || st.State != wire.EnrollPending {
			t.Fatalf("asking again: %+v %v", st, err)
		}
	}
	if len(codes) > 0 {
		if err := e.arch.Approve(ctx, codes[0], "mallory-box", "admin", ""); err == nil {
			t.Fatal("an attacker's request not asked again for three hours is still approvable")
		}
	}
	// (The box then fetches its certificates as TestEnrollApproveSync
	// shows; here the archive's clock is three hours ahead of the box's.)
	if err := e.arch.Approve(ctx, st.Code, "branch-2", "admin", ""); err != nil {
		t.Fatalf("approving the box that kept asking: %v", err)
	}
}

package client_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/spanvault/spanvault/sync/wire"
)

// TestEnrollFloodDoesNotResetLimiter (review: flooding resets the
// enrollment rate limiter): an attacker holding one IPv6 /48 sends 4,500
// enrollment requests in one instant, each from a new /64 of it. Its /48
// passes at most its burst (20), so the overall limit (burst 40) keeps
// room, and a real box from another network enrolls at that instant
// (real TLS, pinned CA). (Old code: refused requests still added limiter
// entries; at 4,096 the whole map was cleared, /48 and /32 limiters
// with it, the /48 got a fresh burst, drained the overall limit, and
// the real box was refused "too many enrollment requests".)
func TestEnrollFloodDoesNotResetLimiter(t *testing.T) {
	e := newEnv(t)
	h := e.arch.Handler()
	_, ak, _ := ed25519.GenerateKey(rand.Reader)
	api, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "flood api"}}, ak)
	if err != nil {
		t.Fatal(err)
	}
	statuses := map[int]int{}
	for i := range 4500 {
		r := httptest.NewRequest(http.MethodPost, "https://archive"+wire.PathEnroll, bytes.NewReader(floodRequest(t, api)))
		r.RemoteAddr = fmt.Sprintf("[2001:db8:1:%x::1]:40000", i)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		statuses[w.Code]++
	}
	if n := statuses[http.StatusAccepted]; n > 20 {
		t.Errorf("one /48 got %d requests through in one instant (statuses %v); its burst is 20", n, statuses)
	}
	st, err := enrollOnce(t, e.enrollConfig(t))
	if err != nil || st.State != wire.EnrollPending {
		t.Fatalf("a real box from another network during the flood (statuses %v): %+v %v", statuses, st, err)
	}
}

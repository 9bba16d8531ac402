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
	"net/netip"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/sync/wire"
)

// TestEnrollFloodFromOneSite (finding: the /64 cap is not enough): an
// attacker holding one IPv6 /48 (65,536 /64s) sends enrollment requests
// from 1,100 of its /64s, each with a new key, slowly enough for the
// overall rate limit; then one holding a /32 does the same from 1,100 of
// its /48s. Neither holds more than its prefix's cap, the pending
// requests in all stay below MaxPendingEnrollments, and a real box from
// another network still enrolls (real TLS, pinned CA) after each.
// (Old code: the /48 filled the global cap of 1,000 and the real box
// was refused "too many enrollment requests pending".)
func TestEnrollFloodFromOneSite(t *testing.T) {
	e := newEnv(t)
	h := e.arch.Handler()
	_, ak, _ := ed25519.GenerateKey(rand.Reader)
	api, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "flood api"}}, ak)
	if err != nil {
		t.Fatal(err)
	}
	flood := func(addr func(i int) string) map[int]int {
		statuses := map[int]int{}
		for i := range 1100 {
			r := httptest.NewRequest(http.MethodPost, "https://archive"+wire.PathEnroll, bytes.NewReader(floodRequest(t, api)))
			r.RemoteAddr = "[" + addr(i) + "]:40000"
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			statuses[w.Code]++
			if i%10 == 9 {
				e.clock.Add(time.Second)
			}
		}
		return statuses
	}
	pendingIn := func(prefix string) (in, all int) {
		p := netip.MustParsePrefix(prefix)
		srcs, err := e.arch.Index.PendingEnrollmentSources(t.Context(), e.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range srcs {
			if a, err := netip.ParseAddr(s); err == nil && p.Contains(a) {
				in++
			}
		}
		return in, len(srcs)
	}
	box := func(after string) {
		t.Helper()
		st, err := enrollOnce(t, e.enrollConfig(t))
		if err != nil || st.State != wire.EnrollPending {
			t.Fatalf("a real box from another network after %s: %+v %v", after, st, err)
		}
	}

	st := flood(func(i int) string { return fmt.Sprintf("2001:db8:1:%x::1", i) })
	if in, all := pendingIn("2001:db8:1::/48"); in > archive.MaxPendingPer48 || all >= archive.MaxPendingEnrollments {
		t.Errorf("one /48 holds %d pending requests (%d in all; statuses %v), at most %d allowed", in, all, st, archive.MaxPendingPer48)
	}
	box("a flood from one /48")

	st = flood(func(i int) string { return fmt.Sprintf("2001:db8:%x::1", i+2) })
	if in, all := pendingIn("2001:db8::/32"); in > archive.MaxPendingPer32 || all >= archive.MaxPendingEnrollments {
		t.Errorf("one /32 holds %d pending requests (%d in all; statuses %v), at most %d allowed", in, all, st, archive.MaxPendingPer32)
	}
	box("a flood from one /32")
}

package access_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	gosync "sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/sync/wire"
)

// countingWeb serves e's web workspace on a second listener (the same
// handler, the archive's server certificate) whose requests each count
// the index statements they run (index.CountStatements), and points
// e.web at it. The returned function gives the count of the latest
// request to a path (once no request is running).
func (e *env) countingWeb(t *testing.T) func(path string) int64 {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(filepath.Join(e.dir, "server.crt"), filepath.Join(e.dir, "server.key"))
	if err != nil {
		t.Fatal(err)
	}
	var mu gosync.Mutex
	done := gosync.NewCond(&mu)
	last, inflight := map[string]int64{}, 0
	h := e.svc.Handler()
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			inflight++
			mu.Unlock()
			var n atomic.Int64
			h.ServeHTTP(w, r.WithContext(index.CountStatements(r.Context(), &n)))
			mu.Lock()
			last[r.URL.Path] = n.Load()
			inflight--
			done.Broadcast()
			mu.Unlock()
		}),
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	e.web = "https://" + ln.Addr().String()
	return func(path string) int64 {
		mu.Lock()
		defer mu.Unlock()
		for inflight > 0 { // the client may have read the answer before the handler returned
			done.Wait()
		}
		return last[path]
	}
}

// growFleet enrolls boxes branch-000 ... up to n in all, each with its
// own certificate, and has each check in over mutual TLS with the health
// the fleet simulation reports (some boxes with their clock unsynchronised
// or dropping packets).
func (e *env) growFleet(t *testing.T, n int) {
	t.Helper()
	ca, err := os.ReadFile(filepath.Join(e.dir, "ca", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("branch-%03d", i)
		if _, err := e.a.Index.Appliance(context.Background(), name); err == nil {
			continue
		}
		r, err := e.a.Enroll(context.Background(), name, filepath.Join(t.TempDir(), name), nil)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := tls.LoadX509KeyPair(filepath.Join(r.Dir, "sync.crt"), filepath.Join(r.Dir, "sync.key"))
		if err != nil {
			t.Fatal(err)
		}
		tr := &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool, Certificates: []tls.Certificate{cert}, CurvePreferences: wire.KeyExchanges()}}
		err = simCheckIn(&http.Client{Timeout: time.Minute, Transport: tr}, fleetSimSpec{Name: name, Dir: r.Dir, Addr: e.addr, Index: i}, e.clock.Now())
		tr.CloseIdleConnections()
		if err != nil {
			t.Fatal(err)
		}
		if i%3 == 1 {
			if err := e.a.SetPolicyGroup(context.Background(), name, "north"); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestFleetQueriesBounded (issue 24): the fleet page, the fleet API (with
// and without history), the inbox and the form to add a user run the same
// number of index statements for 10 boxes as for 200; the fleet watch
// too, once nothing changes. Before, each box cost queries of its own
// (Index.Appliances read the boxes one by one; the policy in force and
// the one applied were looked up per box).
func TestFleetQueriesBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("enrolls 200 boxes")
	}
	e := newEnv(t, nil)
	count := e.countingWeb(t)
	ctx := context.Background()
	if _, err := e.a.SetPolicy(ctx, "group:north", "[sync]\nwindow = \"01:00-05:00\"\n", nil, "admin"); err != nil {
		t.Fatal(err)
	}
	admin := e.addUser("admin", access.Admin)
	w := e.web1(t, admin)
	op := e.signIn(e.addUser("ops", access.Auditor))
	paths := []string{"/fleet", "/api/v1/fleet", "/api/v1/fleet?history=1", "/inbox", "/users/new"}
	measure := func(n int) map[string]int64 {
		e.growFleet(t, n)
		if _, err := e.a.SetPolicy(ctx, "box:branch-001", "[sync]\nwindow = \"02:00-03:00\"\n", nil, "admin"); err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		for _, p := range paths {
			for range 2 { // the second: nothing done once only
				var status int
				var body string
				if strings.HasPrefix(p, "/api/") {
					status, body = op.do("GET", p, nil, nil)
				} else {
					status, body = w.get(p)
				}
				if status != 200 {
					t.Fatalf("%d boxes: %s: %d %.300s", n, p, status, body)
				}
				if p == "/fleet" && (strings.Count(body, `<tr id="box-`) != min(n, 50) || !strings.Contains(body, fmt.Sprintf(`<span id="fleet-total">%d<`, n))) {
					t.Fatalf("%d boxes: the fleet page shows %d (a page of 50 at most)", n, strings.Count(body, `<tr id="box-`))
				}
			}
			got[p] = count(strings.SplitN(p, "?", 2)[0])
		}
		for range 2 {
			var c atomic.Int64
			e.svc.WatchFleet(index.CountStatements(ctx, &c))
			got["WatchFleet"] = c.Load()
		}
		return got
	}
	small := measure(10)
	large := measure(200)
	t.Logf("index statements, 10 boxes: %v; 200 boxes: %v", small, large)
	for _, p := range append(paths, "WatchFleet") {
		if small[p] != large[p] {
			t.Errorf("%s runs %d index statements for 10 boxes, %d for 200", p, small[p], large[p])
		}
	}
}

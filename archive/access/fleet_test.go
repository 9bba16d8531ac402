package access_test

import (
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/capture/synth"
)

// TestFleet: the fleet page shows what the boxes reported at check-in; a
// box that stops checking in shows as silent and raises the alert after
// the configured time (once), and clears when it is back.
func TestFleet(t *testing.T) {
	e := newEnv(t, nil)
	b1 := e.addBox("branch-1", synth.Config{Calls: 2, Duration: time.Second, Start: e.clock.Now().Add(-time.Hour)})
	b2 := e.addBox("branch-2", synth.Config{Calls: 1, Duration: time.Second, Start: e.clock.Now().Add(-time.Hour)})
	// What the appliance hands its sync client; the client adds its
	// backlog and its certificate's expiry.
	b1.health.Version, b1.health.KernelDrops = "v1.4.2", 42
	b1.health.DiskUsed, b1.health.DiskTotal, b1.health.LED = 1<<30, 32<<30, "amber"
	b2.health.Version = "v1.4.1"
	e.sync(b1)
	e.sync(b2)
	op := e.signIn(e.addUser("ops", access.Auditor))
	var fl struct {
		Boxes []access.Box `json:"boxes"`
	}
	if st, body := op.do("GET", "/api/v1/fleet", nil, &fl); st != 200 {
		t.Fatal(st, body)
	}
	if len(fl.Boxes) != 2 {
		t.Fatalf("%d boxes", len(fl.Boxes))
	}
	got := fl.Boxes[0]
	st := b1.c.State()
	certs, _ := os.ReadFile(filepath.Join(b1.enroll, "sync.crt"))
	blk, _ := pem.Decode(certs)
	cert, _ := x509.ParseCertificate(blk.Bytes)
	if got.Name != "branch-1" || got.Health.Version != "v1.4.2" || got.Health.Backlog != st.Backlog || got.Health.BacklogBytes != st.BacklogBytes || got.Health.KernelDrops != 42 ||
		got.Health.DiskUsed != 1<<30 || got.Health.LED != "amber" || !got.Health.CertNotAfter.Equal(cert.NotAfter) || got.Silent || got.LastCheckIn.IsZero() {
		t.Fatalf("fleet row differs from what the box reported: %+v", got)
	}
	// The page shows the same figures.
	c := e.httpClient()
	page := webSignIn(t, e, c, e.addUser("ops2", access.Admin))
	_ = page
	resp, err := c.Get(e.web + "/fleet")
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(resp)
	for _, want := range []string{"v1.4.2", ">42<", "amber", "v1.4.1", cert.NotAfter.Format("2006-01-02")} {
		if !strings.Contains(body, want) {
			t.Fatalf("fleet page lacks %q", want)
		}
	}
	// branch-2 goes silent: nothing before the limit (26 h), one alert after it.
	for i := 0; i < 25; i++ {
		e.clock.Add(time.Hour)
		e.sync(b1)
		e.svc.WatchFleet(t.Context())
	}
	if e.events("fleet_silent", "", "") != 0 {
		t.Fatal("silent alert before the configured time")
	}
	e.clock.Add(2 * time.Hour)
	e.sync(b1)
	e.svc.WatchFleet(t.Context())
	e.svc.WatchFleet(t.Context())
	evs, _ := e.a.Index.Events(t.Context(), "fleet_silent", true)
	if len(evs) != 1 || evs[0].Appliance != "branch-2" {
		t.Fatalf("silent alerts: %+v", evs)
	}
	if a := waitAlert(t, e, "fleet_silent"); a.Appliance != "branch-2" {
		t.Fatalf("webhook alert for %s", a.Appliance)
	}
	if st, _ := op.do("GET", "/api/v1/fleet", nil, nil); st != http.StatusUnauthorized {
		t.Fatalf("a session idle for a day still works: %d", st)
	}
	op = e.signIn(e.addUser("ops3", access.Auditor))
	op.do("GET", "/api/v1/fleet", nil, &fl)
	if fl.Boxes[0].Silent || !fl.Boxes[1].Silent {
		t.Fatalf("silent flags: %v %v", fl.Boxes[0].Silent, fl.Boxes[1].Silent)
	}
	// Drops growing on branch-1 is an alert too.
	b1.health.KernelDrops = 900
	e.sync(b1)
	e.svc.WatchFleet(t.Context())
	if e.events("fleet_kernel_drops_growing", "", "from 42 to 900") != 1 {
		t.Fatal("growing drops not alerted")
	}
	// branch-2 is back: the condition clears.
	e.sync(b2)
	e.svc.WatchFleet(t.Context())
	if e.events("fleet_silent_cleared", "", "") != 1 {
		t.Fatal("silent condition not cleared")
	}
	// The fleet holds no personal data, but it is still behind a session.
	anon := &api{e: e, http: e.httpClient()}
	if st, _ := anon.do("GET", "/api/v1/fleet", nil, nil); st != http.StatusUnauthorized {
		t.Fatal("fleet without a session")
	}
}

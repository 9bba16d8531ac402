package client_test

import (
	"context"
	"crypto/tls"
	"path/filepath"
	"testing"
	"time"

	"github.com/spanvault/spanvault/sync/wire"
)

// TestAlertFlapping (review: the legal-overdue alert floods): a box
// whose count of overdue legal recordings switches between 3 and 0, and
// whose clock is three hours off every other time, checks in ten times
// (real certificate, real check-in); the archive raises one
// legal_overdue and one clock_skew alert, not one per check-in, and
// tells once that each cleared. A day on, the condition back raises
// again; one that stays raises no more. (Old code: five alerts of each.)
func TestAlertFlapping(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cert, err := tls.LoadX509KeyPair(filepath.Join(e.enroll, "sync.crt"), filepath.Join(e.enroll, "sync.key"))
	if err != nil {
		t.Fatal(err)
	}
	checkIn := func(on bool) {
		t.Helper()
		m := wire.CheckIn{Appliance: e.box, Time: e.clock.Now()}
		if on {
			m.Time = m.Time.Add(3 * time.Hour)
			m.Health.LegalOverdue = 3
		}
		if code, msg, err := e.rawPost(t, &cert, 0, wire.PathCheckIn, m); err != nil || code != 200 {
			t.Fatalf("check-in: %d %s %v", code, msg, err)
		}
		e.clock.Add(5 * time.Minute)
	}
	count := func(kind string, alertsOnly bool) int {
		t.Helper()
		es, err := e.arch.Index.Events(ctx, kind, alertsOnly)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, ev := range es {
			if ev.Kind == kind && ev.Appliance == e.box {
				n++
			}
		}
		return n
	}
	want := func(when string, alerts, cleared int) {
		t.Helper()
		for _, kind := range []string{"legal_overdue", "clock_skew"} {
			if a, c := count(kind, true), count(kind+"_cleared", false); a != alerts || c != cleared {
				t.Errorf("%s: %d %s alerts, %d cleared; want %d and %d", when, a, kind, c, alerts, cleared)
			}
		}
	}
	for i := range 10 {
		checkIn(i%2 == 0)
	}
	want("ten check-ins flapping", 1, 1)
	e.clock.Add(24 * time.Hour)
	for range 5 {
		checkIn(true)
	}
	want("a day later, on for five check-ins", 2, 1)
	checkIn(false)
	want("off again", 2, 2)
}

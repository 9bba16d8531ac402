package access_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/capture/synth"
)

func waitAlert(t *testing.T, e *env, kind string) access.Alert {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case a := <-e.alerts:
			if a.Kind == kind {
				return a
			}
		case <-deadline:
			t.Fatalf("the DPO's webhook received no %s alert", kind)
		}
	}
}

// TestInsiderSuspended: a supervisor who plays 200 recordings within ten
// minutes is suspended from playback once past the limit (100), the DPO's
// webhook gets the alert, and only a second person lifts it.
func TestInsiderSuspended(t *testing.T) {
	e := newEnv(t, nil)
	e.addBox("branch-1", synth.Config{Calls: 200, Concurrent: 20, Duration: time.Second, Start: e.clock.Now().Add(-2 * time.Hour)})
	recs := e.recordings("branch-1")
	if len(recs) != 200 {
		t.Fatalf("%d recordings", len(recs))
	}
	seller := e.addUser("seller", access.Supervisor, "branch-1")
	c := e.signIn(seller)
	played, refused := 0, 0
	for i, id := range recs {
		e.clock.Add(2 * time.Second) // 200 plays in 400 s
		resp, _ := c.get("/api/v1/recordings/branch-1/" + id + "/audio")
		switch resp.StatusCode {
		case 200:
			if refused > 0 {
				t.Fatalf("play %d allowed after the suspension", i+1)
			}
			played++
		case http.StatusForbidden:
			refused++
		default:
			t.Fatalf("play %d: %d", i+1, resp.StatusCode)
		}
	}
	if played != 101 || refused != 99 {
		t.Fatalf("played %d, refused %d; want the 101st recording to be the last (limit 100 per 10 min)", played, refused)
	}
	a := waitAlert(t, e, "insider_suspended")
	if a.Actor != "seller" {
		t.Fatalf("alert names %q", a.Actor)
	}
	// The user cannot lift it, neither can an auditor; a DPO can.
	if st, _ := c.do("POST", "/api/v1/users/seller/clear", nil, nil); st != http.StatusForbidden {
		t.Fatalf("supervisor lifting own suspension: %d", st)
	}
	dpo := e.signIn(e.addUser("dpo", access.DPO))
	if st, body := dpo.do("POST", "/api/v1/users/seller/clear", nil, nil); st != http.StatusNoContent {
		t.Fatal(st, body)
	}
	if resp, _ := c.get("/api/v1/recordings/branch-1/" + recs[0] + "/audio"); resp.StatusCode != 200 {
		t.Fatalf("play after the suspension was lifted: %d", resp.StatusCode)
	}
	if e.events("insider_cleared", "dpo", "seller") != 1 {
		t.Fatal("lifting not audited")
	}
}

// TestInsiderOutsideHours: playing outside the configured working hours
// suspends at once and alerts.
func TestInsiderOutsideHours(t *testing.T) {
	var e *env
	e = newEnv(t, func(c *archive.Config) {
		h := time.Now().Local().Add(6 * time.Hour).Hour() // a window that excludes now
		c.Access.WorkingHours = fmt.Sprintf("%02d:00-%02d:59", h, h)
	})
	e.addBox("branch-1", synth.Config{Calls: 1, Duration: time.Second, Start: e.clock.Now().Add(-time.Hour)})
	c := e.signIn(e.addUser("night", access.Compliance, "branch-1"))
	id := e.recordings("branch-1")[0]
	if resp, _ := c.get("/api/v1/recordings/branch-1/" + id + "/audio"); resp.StatusCode != 200 {
		t.Fatalf("first play: %d", resp.StatusCode)
	}
	waitAlert(t, e, "insider_suspended")
	if resp, _ := c.get("/api/v1/recordings/branch-1/" + id + "/audio"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("play after an out-of-hours suspension: %d", resp.StatusCode)
	}
}

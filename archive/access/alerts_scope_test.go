package access_test

import (
	"strings"
	"testing"

	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/capture/synth"
)

// TestAlertsInScope: an alert about branch-b's box (its clock not
// synchronised) reaches no reader scoped to branch-a: not the DPO's
// inbox, not the fleet page or its API for an administrator or an
// auditor of branch-a, not the trail's alerts; a reader of every branch
// sees it everywhere. (Old code: the fleet page and GET /api/v1/fleet
// listed every box with its alerts to any reader of the fleet.)
func TestAlertsInScope(t *testing.T) {
	e := newEnv(t, nil)
	a := e.addBox("branch-a", synth.Config{})
	b := e.addBox("branch-b", synth.Config{})
	e.checkIn(a, false)
	b.health.ClockSynced = false
	e.checkIn(b, false)
	e.svc.WatchFleet(t.Context())
	if e.events("fleet_clock_unsynced", "", "clock not synchronised") != 1 {
		t.Fatal("no alert for branch-b's clock")
	}

	dpo := e.web1(t, e.addUser("dora", access.DPO, "branch-a"))
	if st, page := dpo.get("/inbox"); st != 200 || strings.Contains(page, "branch-b") || strings.Contains(page, "fleet_clock_unsynced") {
		t.Fatalf("a DPO of branch-a: inbox %d shows branch-b's alert: %s", st, between(page, `id="inbox-alerts"`, `</section>`))
	}
	for _, u := range []*user{e.addUser("adam", access.Admin, "branch-a"), e.addUser("aud", access.Auditor, "branch-a")} {
		w := e.web1(t, u)
		st, page := w.get("/fleet")
		if st != 200 || !strings.Contains(page, "branch-a") {
			t.Fatalf("%s: fleet page %d without its own box: %.300s", u.name, st, page)
		}
		if strings.Contains(page, "branch-b") {
			t.Fatalf("%s (%s of branch-a): the fleet page shows branch-b's box and its alerts", u.name, u.role)
		}
		c := e.signIn(u)
		var fl struct {
			Boxes []access.Box `json:"boxes"`
		}
		if st, body := c.do("GET", "/api/v1/fleet?history=1", nil, &fl); st != 200 {
			t.Fatal(st, body)
		}
		for _, x := range fl.Boxes {
			if x.Name != "branch-a" {
				t.Fatalf("%s (%s of branch-a): GET /api/v1/fleet lists %s with %v", u.name, u.role, x.Name, x.Reasons)
			}
		}
		if len(fl.Boxes) != 1 {
			t.Fatalf("%s: %d boxes, want branch-a", u.name, len(fl.Boxes))
		}
	}
	aud := e.signIn(e.addUser("aud2", access.Auditor, "branch-a"))
	if st, body := aud.do("GET", "/api/v1/audit?alerts=1", nil, nil); st != 200 || strings.Contains(body, "branch-b") {
		t.Fatalf("an auditor of branch-a reads branch-b's alerts: %d %.300s", st, body)
	}

	// Every branch: everything.
	all := e.web1(t, e.addUser("ops", access.Admin))
	if _, page := all.get("/fleet"); !strings.Contains(page, "branch-b") {
		t.Fatal("an administrator of every branch does not see branch-b on the fleet page")
	}
	if _, page := all.get("/inbox"); !strings.Contains(page, "fleet_clock_unsynced") {
		t.Fatal("an administrator of every branch does not see branch-b's alert in the inbox")
	}
}

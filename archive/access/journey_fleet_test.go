package access_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/capture/synth"
)

// TestJourneyFleet: the admin opens the fleet page in a real browser. Of
// three boxes, the one with recordings waiting after its last pass and an
// unsynchronised clock is listed first as needing attention, with why;
// its backlog is the box's own after the pass; each box's day of history
// is drawn.
func TestJourneyFleet(t *testing.T) {
	ctx := browser(t)
	e := newEnv(t, nil)
	start := e.clock.Now().Add(-2 * time.Hour)
	names := []string{"branch-east", "branch-north", "branch-west"}
	boxes := map[string]*box{}
	for i, n := range names {
		boxes[n] = e.addBox(n, synth.Config{Calls: 2, Duration: time.Second, Start: start, Seed: uint64(i + 1)})
		boxes[n].health.Version = "1.4.2"
	}
	west := boxes["branch-west"]
	// A day of hourly check-ins: west records and never uploads (its
	// window is at night), the others sync; west's clock is lost at the end.
	for h := 0; h < 24; h++ {
		e.clock.Add(time.Hour)
		e.recordOn(west, synth.Config{Calls: 1, Duration: time.Second, Start: e.clock.Now().Add(-time.Minute), Seed: uint64(50 + h)})
		if h == 20 {
			west.health.ClockSynced = false
		}
		for _, n := range names {
			e.checkIn(boxes[n], n != "branch-west")
		}
		e.svc.WatchFleet(t.Context())
	}
	own := west.c.State()
	if own.Backlog != 24 {
		t.Fatalf("west has %d waiting", own.Backlog)
	}

	signInBrowser(t, ctx, e, e.addUser("fleetadmin", access.Admin))
	do(t, ctx, "open the fleet", chromedp.Navigate(e.web+"/fleet"), chromedp.WaitVisible(chromedp.ID("fleet")))
	first := js[string](t, ctx, `document.querySelector("#fleet tbody tr").id`)
	cls := js[string](t, ctx, `document.querySelector("#fleet tbody tr").className`)
	if first != "box-branch-west" || cls != "attention" {
		t.Fatalf("first row %s (%s), want branch-west needing attention", first, cls)
	}
	reasons := js[string](t, ctx, `document.querySelector("#box-branch-west ul.reasons").innerText`)
	backlog := js[string](t, ctx, `document.querySelector("#box-branch-west td.backlog").dataset.n`)
	clock := js[string](t, ctx, `document.querySelector("#box-branch-west td.clock").dataset.synced`)
	fine := js[int](t, ctx, `document.querySelectorAll("#fleet tbody tr.fine").length`)
	lines := js[int](t, ctx, `document.querySelectorAll("#box-branch-west svg.spark polyline").length`)
	shaded := js[int](t, ctx, `document.querySelectorAll("#box-branch-west svg.spark rect.unsynced").length`)
	attention := js[string](t, ctx, `document.getElementById("fleet-attention").innerText`)
	if backlog != "24" || clock != "false" || fine != 2 || attention != "1" {
		t.Fatalf("west: backlog %s, clock synced %s; %d boxes fine, %s needing attention", backlog, clock, fine, attention)
	}
	// The reasons in the reader's language.
	wantClock, wantBacklog := "clock not synchronised", "backlog growing"
	if screenLang() == "de" {
		wantClock, wantBacklog = "Uhr nicht synchronisiert", "Rückstand wächst"
	}
	if !strings.Contains(reasons, wantClock) || !strings.Contains(reasons, wantBacklog) {
		t.Fatalf("west's reasons: %q", reasons)
	}
	if lines != 3 || shaded == 0 {
		t.Fatalf("west's trends: %d lines, %d shaded buckets", lines, shaded)
	}
	shot(t, ctx, "fleet-fleet")
	// The API says the same.
	op := e.signIn(e.addUser("ops", access.Auditor))
	var fl struct {
		Boxes []access.Box `json:"boxes"`
	}
	op.do("GET", "/api/v1/fleet", nil, &fl)
	for _, b := range fl.Boxes {
		if b.Name == "branch-west" && (b.Health.Backlog != own.Backlog || b.Health.BacklogBytes != own.BacklogBytes || b.Health.ClockSynced || !b.Attention) {
			t.Fatalf("API: %+v", b)
		}
	}
}

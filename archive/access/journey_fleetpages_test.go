package access_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/spanvault/spanvault/archive/access"
)

// TestJourneyFleetPages: an admin of a fleet of 120 boxes with 30 days of
// history opens the fleet page in a real browser: the first 50 boxes, the
// ones needing attention first, a link to the next page; the summary
// counts all 120. She filters by state (only the boxes needing attention)
// and then by branch, with the page's own form.
func TestJourneyFleetPages(t *testing.T) {
	if testing.Short() {
		t.Skip("enrolls 120 boxes")
	}
	ctx := browser(t)
	e := newEnv(t, nil)
	const n = 120
	e.growFleet(t, n)
	sim := &fleetSim{e: e}
	for i := range n {
		sim.plan.Boxes = append(sim.plan.Boxes, fleetSimSpec{Name: fmt.Sprintf("branch-%03d", i), Index: i})
	}
	sim.seedHistory(e.clock.Now())
	e.clock.Add(time.Minute)

	signInBrowser(t, ctx, e, e.addUser("fleetadmin", access.Admin))
	do(t, ctx, "open the fleet", chromedp.Navigate(e.web+"/fleet"), chromedp.WaitVisible(chromedp.ID("fleet")))
	shot(t, ctx, "fleetadmin-fleet-page1")
	rows := js[int](t, ctx, `document.querySelectorAll("#fleet tbody tr").length`)
	total := js[string](t, ctx, `document.getElementById("fleet-total").innerText`)
	attention := js[int](t, ctx, `+document.getElementById("fleet-attention").innerText`)
	firstCls := js[string](t, ctx, `document.querySelector("#fleet tbody tr").className`)
	next := js[bool](t, ctx, `!!document.getElementById("next")`)
	if rows != 50 || total != "120" || attention == 0 || firstCls != "attention" || !next {
		t.Fatalf("page 1: %d rows, total %s, %d needing attention, first row %s, a next page: %v", rows, total, attention, firstCls, next)
	}
	do(t, ctx, "next page", chromedp.Click(chromedp.ID("next")))
	waitJS(t, ctx, `location.search.includes("page=2") && document.readyState === "complete" && !!document.getElementById("prev")`, "page 2")
	if first := js[string](t, ctx, `document.querySelector("#fleet tbody tr").id`); first == "" {
		t.Fatal("page 2 is empty")
	}

	// Only the boxes needing attention, chosen in the form.
	do(t, ctx, "filter by state", chromedp.Navigate(e.web+"/fleet"), chromedp.WaitVisible(chromedp.ID("fleet-filter")),
		chromedp.SetValue(chromedp.ID("fleet-state"), "attention"), chromedp.Click(chromedp.ID("fleet-apply")))
	waitJS(t, ctx, `location.search.includes("state=attention") && document.readyState === "complete"`, "the filtered page")
	shot(t, ctx, "fleetadmin-fleet-attention")
	got := js[int](t, ctx, `document.querySelectorAll("#fleet tbody tr.attention").length`)
	fine := js[int](t, ctx, `document.querySelectorAll("#fleet tbody tr.fine").length`)
	if got != min(attention, 50) || fine != 0 {
		t.Fatalf("state filter: %d boxes needing attention (want %d), %d fine ones", got, min(attention, 50), fine)
	}
	// And a branch, typed into the form.
	do(t, ctx, "filter by branch", chromedp.SetValue(chromedp.ID("fleet-state"), ""),
		chromedp.SendKeys(chromedp.ID("fleet-branch"), "branch-11"), chromedp.Click(chromedp.ID("fleet-apply")))
	waitJS(t, ctx, `location.search.includes("branch=branch-11") && document.readyState === "complete"`, "the filtered page")
	shot(t, ctx, "fleetadmin-fleet-branch")
	ids := js[[]string](t, ctx, `[...document.querySelectorAll("#fleet tbody tr")].map(r => r.id)`)
	if len(ids) != 10 || ids[0] == "" {
		t.Fatalf("branch filter branch-11: %v", ids)
	}
	for _, id := range ids {
		if id[:len("box-branch-11")] != "box-branch-11" {
			t.Fatalf("branch filter branch-11 lists %s", id)
		}
	}
	if shown := js[string](t, ctx, `document.getElementById("fleet-shown").innerText`); shown != say("Showing boxes 1 to 10 of 10", "Geräte 1 bis 10 von 10") {
		t.Fatalf("the count shown: %q", shown)
	}
}

package access_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/spanvault/spanvault/archive/access"
)

// TestJourneyUpdates: an auditor finds on the fleet page which box failed
// its update and why, follows the link to the rollout panel and reads
// there that the rollout stopped itself in wave 1 (in the journey's
// language; the archive's stop reason and the box's failure are as they
// were recorded).
func TestJourneyUpdates(t *testing.T) {
	e, _ := rolledOut(t)
	ctx := browser(t)
	signInBrowser(t, ctx, e, e.addUser("olga", access.Auditor))
	do(t, ctx, "fleet", chromedp.Navigate(e.web+"/fleet"), chromedp.WaitVisible(chromedp.ID("fleet")))
	if got := js[string](t, ctx, `document.querySelector("#box-branch-b .firmware").textContent`); !strings.Contains(got, say("rollout 1: failed", "Verteilung 1: fehlgeschlagen")) || !strings.Contains(got, "did not confirm within 20m") {
		t.Fatalf("branch-b's firmware cell: %q", got)
	}
	shot(t, ctx, "updates-fleet")
	do(t, ctx, "rollout panel", chromedp.Click(`#box-branch-b .firmware a`), chromedp.WaitVisible(chromedp.ID("rollout-1")))
	body := js[string](t, ctx, `document.querySelector("#rollout-1").innerText`)
	for _, want := range []string{say("stopped", "gestoppt"), "wave 1: 1 of 1 boxes failed", "branch-b: 2026.12.06-2 did not confirm within 20m"} {
		if !strings.Contains(body, want) {
			t.Fatalf("rollout panel lacks %q:\n%s", want, body)
		}
	}
	shot(t, ctx, "updates-rollouts")
}

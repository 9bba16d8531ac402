package access_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/capture/synth"
)

// TestJourneyAuditor (issue 23): the auditor's trail browser in a real
// browser says the trail verifies, filters it; after a row of the index
// is changed behind the archive's back, it says that the trail does not
// verify, and which entry.
func TestJourneyAuditor(t *testing.T) {
	e := newEnv(t, nil)
	e.addBox("branch-1", synth.Config{Calls: 3, Duration: 3 * time.Second, Start: e.clock.Now().Add(-time.Hour)})
	sup := e.signIn(e.addUser("sven", access.Supervisor, "branch-1"))
	for _, id := range e.recordings("branch-1") {
		sup.get("/api/v1/recordings/branch-1/" + id + "/audio")
	}
	e.svc.AnchorTrail(t.Context())
	ctx := browser(t)
	signInBrowser(t, ctx, e, e.addUser("audrey", access.Auditor))
	do(t, ctx, "trail", chromedp.Navigate(e.web+"/audit"), chromedp.WaitVisible(chromedp.ID("verdict")))
	shot(t, ctx, "auditor-trail")
	if !js[bool](t, ctx, `document.getElementById("verdict").classList.contains("ok")`) {
		t.Fatalf("the intact trail: %s", js[string](t, ctx, `document.getElementById("verdict").innerText`))
	}
	do(t, ctx, "filter",
		chromedp.SetValue(chromedp.CSS(`#trailfilter select[name="kind"]`), "play"),
		chromedp.Click(chromedp.ID("filter")))
	waitJS(t, ctx, `location.search.includes("kind=play") && document.readyState == "complete"`, "the filtered trail")
	shot(t, ctx, "auditor-trail-filtered")
	kinds := js[[]string](t, ctx, `[...document.querySelectorAll("#trail tr[id]")].map(r => r.cells[2].textContent)`)
	if len(kinds) != 3 || strings.Join(kinds, ",") != "play,play,play" {
		t.Fatalf("filtered by play: %q", kinds)
	}
	// Someone with write access to the index rewrites an entry.
	if _, err := e.a.Index.DB().ExecContext(t.Context(), `UPDATE events SET actor = 'nobody' WHERE id = 3`); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, "trail again", chromedp.Navigate(e.web+"/audit"), chromedp.WaitVisible(chromedp.ID("verdict")))
	shot(t, ctx, "auditor-trail-tampered")
	if js[bool](t, ctx, `document.getElementById("verdict").classList.contains("ok")`) {
		t.Fatal("the trail browser says a tampered trail verifies")
	}
	if p := js[string](t, ctx, `document.getElementById("problems").innerText`); !strings.Contains(p, "entry 3") {
		t.Fatalf("the trail browser does not say where: %q", p)
	}
}

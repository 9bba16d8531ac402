package access_test

import (
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/capture/synth"
)

// TestTrailScopedAuditor: an auditor scoped to branch-1 reads branch-1's
// events only, on the trail page and through the API: nothing of
// branch-2, nothing archive-wide (no branch); an auditor of every branch
// reads them all.
func TestTrailScopedAuditor(t *testing.T) {
	e := newEnv(t, nil)
	start := e.clock.Now().Add(-time.Hour)
	e.addBox("branch-1", synth.Config{Calls: 1, Duration: time.Second, Start: start})
	e.addBox("branch-2", synth.Config{Calls: 1, Duration: time.Second, Start: start})
	e.a.Event(t.Context(), "test_wide", "ops", "", "archive-wide secret-wide", false)
	e.a.Event(t.Context(), "test_b2", "ops", "branch-2", "branch-2 secret-two", false)
	e.a.Event(t.Context(), "test_b1", "ops", "branch-1", "branch-1 visible-one", false)

	scoped := e.signIn(e.addUser("audrey", access.Auditor, "branch-1"))
	var out struct {
		Events []index.Event `json:"events"`
	}
	if st, body := scoped.do("GET", "/api/v1/audit", nil, &out); st != 200 {
		t.Fatalf("audit API: %d %s", st, body)
	}
	var mine bool
	for _, ev := range out.Events {
		if ev.Appliance != "branch-1" {
			t.Errorf("a branch-1 auditor reads event %d (%s, branch %q): %s", ev.ID, ev.Kind, ev.Appliance, ev.Detail)
		}
		mine = mine || ev.Kind == "test_b1"
	}
	if !mine {
		t.Error("a branch-1 auditor does not read branch-1's event")
	}

	c := e.httpClient()
	webSignIn(t, e, c, e.addUser("aude", access.Auditor, "branch-1"))
	resp, err := c.Get(e.web + "/audit")
	if err != nil {
		t.Fatal(err)
	}
	page := between(readAll(resp), `id="trail"`, "</table>")
	if resp.StatusCode != 200 || strings.Contains(page, "secret-two") || strings.Contains(page, "secret-wide") || strings.Contains(page, "<td>branch-2</td>") || !strings.Contains(page, "visible-one") {
		t.Errorf("a branch-1 auditor's trail page: %d\n%s", resp.StatusCode, page)
	}

	all := e.signIn(e.addUser("alma", access.Auditor))
	out.Events = nil
	all.do("GET", "/api/v1/audit", nil, &out)
	kinds := map[string]bool{}
	for _, ev := range out.Events {
		kinds[ev.Kind] = true
	}
	if !kinds["test_wide"] || !kinds["test_b1"] || !kinds["test_b2"] {
		t.Errorf("an auditor of every branch misses events: %v", kinds)
	}
}

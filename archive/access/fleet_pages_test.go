package access_test

import (
	"fmt"
	"html"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive/access"
)

// TestFleetPagesBounded: the fleet page of a large fleet with 30 days of
// history is a page of boxes at a time, of a bounded size whatever the
// fleet's (it was every box: 2.2 MB at 500), the boxes needing attention
// first; its pages together list every box once; it filters by branch and
// by state; the summary still counts every box.
func TestFleetPagesBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("enrolls 500 boxes")
	}
	const n, maxKB = 500, 125
	e := newEnv(t, nil)
	e.growFleet(t, n)
	sim := &fleetSim{e: e}
	for i := range n {
		sim.plan.Boxes = append(sim.plan.Boxes, fleetSimSpec{Name: fmt.Sprintf("branch-%03d", i), Index: i})
	}
	sim.seedHistory(e.clock.Now())
	e.clock.Add(time.Minute)
	w := e.web1(t, e.addUser("admin", access.Admin))

	rowRe := regexp.MustCompile(`<tr id="box-([a-z0-9-]+)" class="(\w+)"`)
	seen := map[string]bool{}
	attention, pages := 0, 0
	fine := false // a box without attention was listed: none needing it may follow
	for path := "/fleet"; path != ""; pages++ {
		st, page := w.get(path)
		if st != 200 {
			t.Fatalf("%s: %d", path, st)
		}
		rows := rowRe.FindAllStringSubmatch(page, -1)
		if len(page) > maxKB*1000 || len(rows) > 50 {
			t.Fatalf("%s of %d boxes with 30 days of history: %d kB, %d rows; want at most %d kB and 50 rows a page", path, n, len(page)/1000, len(rows), maxKB)
		}
		if got := between(page, `<span id="fleet-total">`, `<`); got != fmt.Sprint(n) {
			t.Fatalf("%s: the summary counts %s boxes", path, got)
		}
		for _, r := range rows {
			if seen[r[1]] {
				t.Fatalf("%s lists %s again", path, r[1])
			}
			seen[r[1]] = true
			switch {
			case r[2] == "attention" && fine:
				t.Fatalf("%s: %s needs attention, listed after a box that does not", path, r[1])
			case r[2] == "attention":
				attention++
			default:
				fine = true
			}
		}
		path = html.UnescapeString(between(page, `<a id="next" href="`, `"`))
		if pages > n {
			t.Fatal("the pages do not end")
		}
	}
	if len(seen) != n || pages != 10 {
		t.Fatalf("%d pages listed %d boxes, want 10 and %d", pages, len(seen), n)
	}
	if attention == 0 {
		t.Fatal("no box needs attention: the order is not tested")
	}
	// By state: the boxes needing attention, as many as the summary says.
	_, page := w.get("/fleet?state=attention")
	if rows, want := rowRe.FindAllStringSubmatch(page, -1), between(page, `<span id="fleet-attention">`, `<`); len(rows) != attention || want != fmt.Sprint(attention) || strings.Contains(page, `class="fine"`) {
		t.Fatalf("state=attention: %d rows, the summary says %s, %d seen", len(rows), want, attention)
	}
	// By branch: a part of the name.
	_, page = w.get("/fleet?branch=branch-01")
	rows := rowRe.FindAllStringSubmatch(page, -1)
	if len(rows) != 10 || !strings.Contains(page, "Showing boxes 1 to 10 of 10") {
		t.Fatalf("branch=branch-01: %d rows, want branch-010 to branch-019", len(rows))
	}
	for _, r := range rows {
		if !strings.HasPrefix(r[1], "branch-01") {
			t.Fatalf("branch=branch-01 lists %s", r[1])
		}
	}
}

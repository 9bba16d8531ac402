package access_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/capture/synth"
)

// TestFleetCountsClassicalOnly (issue 25): the fleet API and page say how
// many of each box's recordings are sealed to classical (X25519)
// recipients only; after the re-seal job, none.
func TestFleetCountsClassicalOnly(t *testing.T) {
	e := newEnv(t, nil)
	e.addBox("branch-1", synth.Config{Calls: 2, Duration: time.Second, Start: e.clock.Now().Add(-time.Hour)})
	n := len(e.recordings("branch-1"))
	op := e.signIn(e.addUser("ops", access.Auditor))
	c := e.httpClient()
	webSignIn(t, e, c, e.addUser("ops2", access.Admin))
	check := func(want int) {
		t.Helper()
		var fl struct {
			Boxes []access.Box `json:"boxes"`
		}
		if st, body := op.do("GET", "/api/v1/fleet", nil, &fl); st != 200 || len(fl.Boxes) != 1 {
			t.Fatal(st, body)
		}
		if fl.Boxes[0].ClassicalOnly != want {
			t.Fatalf("fleet API: %d classical-only recordings, want %d", fl.Boxes[0].ClassicalOnly, want)
		}
		resp, err := c.Get(e.web + "/fleet")
		if err != nil {
			t.Fatal(err)
		}
		if body := readAll(resp); !strings.Contains(body, fmt.Sprintf(`class="classical">%d<`, want)) {
			t.Fatalf("fleet page does not show %d classical-only recordings", want)
		}
	}
	if n == 0 {
		t.Fatal("no recordings")
	}
	check(n)
	pq, _ := age.GenerateHybridIdentity()
	if rep, err := e.a.Reseal(context.Background(), []age.Identity{e.identity, pq}, pq.Recipient(), "test"); err != nil || rep.Resealed != n {
		t.Fatalf("reseal: %+v %v", rep, err)
	}
	check(0)
}

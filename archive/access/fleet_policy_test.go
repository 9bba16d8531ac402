package access_test

import (
	"context"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/capture/synth"
)

// TestFleetPolicyDrift: the fleet API shows, per box, the central policy
// in force and the version the box reported applying; a box that has not
// applied the one in force shows drift.
func TestFleetPolicyDrift(t *testing.T) {
	e := newEnv(t, nil)
	b := e.addBox("branch-1", synth.Config{Calls: 1, Duration: time.Second, Start: e.clock.Now().Add(-time.Hour)})
	admin := e.signIn(e.addUser("admin", access.Admin))
	fleet := func() *access.BoxPolicy {
		var out struct {
			Boxes []access.Box `json:"boxes"`
		}
		if code, body := admin.do("GET", "/api/v1/fleet", nil, &out); code != 200 || len(out.Boxes) != 1 {
			t.Fatalf("fleet: %d %s", code, body)
		}
		return out.Boxes[0].Policy
	}
	if p := fleet(); p != nil {
		t.Fatalf("no policy yet, fleet says %+v", p)
	}
	v, err := e.a.SetPolicy(context.Background(), "box:branch-1", "[sync]\nwindow = \"02:00-03:00\"\n", nil, "admin")
	if err != nil {
		t.Fatal(err)
	}
	e.sync(b) // this box applies no policy: it reports version 0
	if p := fleet(); p == nil || p.InForce != v || p.Applied != 0 || !p.Drift {
		t.Fatalf("fleet policy %+v, want version %d in force, 0 applied, drift", p, v)
	}
}

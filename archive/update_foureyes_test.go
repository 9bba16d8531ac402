package archive_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/index"
)

// roll files a rollout and, when it is filed (four eyes), has a second
// admin approve it: the rollout as it runs.
func (e *updEnv) roll(o archive.RollOptions) (*index.Rollout, error) {
	e.t.Helper()
	ctx := context.Background()
	r, err := e.a.Roll(ctx, o)
	if err != nil || r.State != index.RolloutFiled {
		return r, err
	}
	if err := e.a.ApproveRollout(ctx, r.ID, "second-"+o.By); err != nil {
		return nil, err
	}
	return e.a.Index.Rollout(ctx, r.ID)
}

// TestRolloutFourEyes: a rollout to more than one box is filed until a
// second admin approves it, with [enroll] four_eyes off (its default);
// nothing is offered meanwhile, and its filer cannot approve it. One to
// a single box starts at once. (Old code: started by one person, every
// box offered the firmware.)
func TestRolloutFourEyes(t *testing.T) {
	e := newUpdEnv(t, nil)
	ctx := context.Background()
	if e.a.Config.Enroll.FourEyes {
		t.Fatal("[enroll] four_eyes is on by default; this test is about it off")
	}
	for _, n := range []string{"canary", "b1"} {
		e.box(n)
		e.checkIn(n, running(1))
	}
	e.publish(7)
	r, err := e.a.Roll(ctx, archive.RollOptions{Serial: 7, Canary: "canary", Percent: 100, ConfirmWithin: 20 * time.Minute, By: "mallory"})
	if err != nil {
		t.Fatal(err)
	}
	if r.State != index.RolloutFiled {
		t.Fatalf("a rollout to two boxes by one admin is %s, want filed for a second admin", r.State)
	}
	if rep := e.checkIn("canary", running(1)); rep.Update != nil {
		t.Fatal("the canary is offered a rollout nobody else approved")
	}
	if err := e.a.ApproveRollout(ctx, r.ID, "mallory"); err == nil || !strings.Contains(err.Error(), "second admin") {
		t.Fatalf("the filer approving her own rollout: %v", err)
	}
	if err := e.a.ApproveRollout(ctx, r.ID, "trent"); err != nil {
		t.Fatal(err)
	}
	if rep := e.checkIn("canary", running(1)); rep.Update == nil {
		t.Fatal("approved rollout: the canary gets no offer")
	}
	one, err := e.a.Roll(ctx, archive.RollOptions{Serial: 7, Target: "box:b1", ConfirmWithin: 20 * time.Minute, By: "mallory"})
	if err != nil {
		t.Fatal(err)
	}
	if one.State != index.RolloutActive {
		t.Fatalf("a rollout to one box is %s, want active", one.State)
	}
}

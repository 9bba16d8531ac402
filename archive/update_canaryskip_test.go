package archive_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/sync/wire"
)

// TestSecCanarySkippedStartsWave1: the canary reports a serial above the
// update's (it never ran the update): it is "skipped", and the rollout
// takes that as the canary's success: wave 1 starts untested.
func TestSecCanarySkippedStartsWave1(t *testing.T) {
	e := newUpdEnv(t, nil)
	ctx := context.Background()
	for _, n := range []string{"canary", "b1", "b2"} {
		e.box(n)
		e.checkIn(n, running(1))
	}
	e.publish(7)
	r, err := e.roll(archive.RollOptions{Serial: 7, Canary: "canary", Percent: 50, ConfirmWithin: 20 * time.Minute, By: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	e.checkIn("canary", running(1))  // offered
	e.checkIn("canary", running(99)) // claims a later firmware: skipped
	st, _ := e.a.Rollout(ctx, r.ID)
	if st.Wave > 0 {
		t.Errorf("the canary never confirmed update 7 (skipped: %+v) but the rollout is in wave %d", st.Waves[0], st.Wave)
	}
	if st.State != index.RolloutStopped || !strings.Contains(st.EndReason, "another canary") {
		t.Errorf("rollout %s (%q), want stopped saying to roll again with another canary", st.State, st.EndReason)
	}
	if rep := e.checkIn("b1", running(1)); rep.Update != nil {
		t.Errorf("b1 is offered update %d though no canary tried it", 7)
	}
}

// TestRevokedBoxLeavesRollout: a box revoked during a rollout leaves it
// at once; it does not fail its wave at the deadline (which stopped the
// rollout for every other box).
func TestRevokedBoxLeavesRollout(t *testing.T) {
	e := newUpdEnv(t, nil)
	ctx := context.Background()
	for _, n := range []string{"canary", "b1", "b2"} {
		e.box(n)
		e.checkIn(n, running(1))
	}
	e.publish(7)
	r, err := e.roll(archive.RollOptions{Serial: 7, Canary: "canary", Percent: 100, ConfirmWithin: 20 * time.Minute, By: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	confirm := func(n string) {
		h := running(7)
		h.UpdateState, h.UpdateSerial, h.UpdateRollout = wire.UpdateConfirmed, 7, r.ID
		e.checkIn(n, h)
	}
	e.checkIn("canary", running(1)) // offered
	confirm("canary")               // wave 1: b1, b2
	e.checkIn("b1", running(1))
	e.checkIn("b2", running(1))
	if err := e.a.Revoke(ctx, "b2", "stolen"); err != nil {
		t.Fatal(err)
	}
	confirm("b1")
	e.clock.Add(archive.DefaultRolloutDeadline + time.Hour)
	if err := e.a.AdvanceRollouts(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := e.a.Rollout(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range st.Boxes {
		if b.Appliance == "b2" {
			t.Errorf("the revoked box is still in the rollout: %+v", b)
		}
	}
	if st.State != index.RolloutDone {
		t.Errorf("rollout %s (%s), want done: the revoked box held it", st.State, st.EndReason)
	}
}

package archive_test

import (
	"context"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive"
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
	r, err := e.a.Roll(ctx, archive.RollOptions{Serial: 7, Canary: "canary", Percent: 50, ConfirmWithin: 20 * time.Minute, By: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	e.checkIn("canary", running(1))  // offered
	e.checkIn("canary", running(99)) // claims a later firmware: skipped
	st, _ := e.a.Rollout(ctx, r.ID)
	if st.Wave > 0 {
		t.Errorf("the canary never confirmed update 7 (skipped: %+v) but the rollout is in wave %d", st.Waves[0], st.Wave)
	}
}

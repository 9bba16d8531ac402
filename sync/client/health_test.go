package client_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/sync/client"
	"github.com/spanvault/spanvault/sync/wire"
)

// archiveHealth is what the archive stored from the box's last check-in.
func (e *env) archiveHealth() wire.Health {
	e.t.Helper()
	ap, err := e.arch.Index.Appliance(context.Background(), e.box)
	if err != nil {
		e.t.Fatal(err)
	}
	var h wire.Health
	if err := json.Unmarshal([]byte(ap.Health), &h); err != nil {
		e.t.Fatalf("stored health %q: %v", ap.Health, err)
	}
	return h
}

// TestCheckInReportsBacklogAfterPass: the archive holds the backlog the
// box has after each pass (issue 23 acceptance 3): five recordings
// waiting outside the window are reported as waiting at the box's first
// check-in, and a pass that uploads them reports nothing waiting. Before,
// the check-in carried the count from before the pass: 0 with five
// waiting, then five after they had all been sent.
func TestCheckInReportsBacklogAfterPass(t *testing.T) {
	e := newEnv(t)
	e.record(synth.Config{Calls: 5, Duration: 2 * time.Second, Start: e.clock.Now().Add(-time.Hour)})
	c := e.client()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Outside the window: a check-in only.
	if err := c.Pass(ctx, client.Options{Upload: false}); err != nil {
		t.Fatal(err)
	}
	st, h := c.State(), e.archiveHealth()
	if st.Backlog < 5 || st.BacklogBytes == 0 {
		t.Fatalf("the box holds %d waiting (%d bytes), want its five recordings", st.Backlog, st.BacklogBytes)
	}
	if h.Backlog != st.Backlog || h.BacklogBytes != st.BacklogBytes || !h.AfterPass {
		t.Fatalf("archive holds backlog %d (%d bytes) while the box has %d (%d bytes) waiting after the pass", h.Backlog, h.BacklogBytes, st.Backlog, st.BacklogBytes)
	}
	// Inside the window: everything goes, and the archive hears so.
	e.clock.Add(time.Minute)
	if err := c.Pass(ctx, client.Options{Upload: true}); err != nil {
		t.Fatal(err)
	}
	st, h = c.State(), e.archiveHealth()
	if st.Backlog != 0 {
		t.Fatalf("the box still has %d waiting after an upload pass", st.Backlog)
	}
	if h.Backlog != st.Backlog || h.BacklogBytes != st.BacklogBytes {
		t.Fatalf("archive holds backlog %d (%d bytes) while the box has %d (%d bytes) waiting after the pass", h.Backlog, h.BacklogBytes, st.Backlog, st.BacklogBytes)
	}
	// HealthNow is asked at each check-in, so the last one carries the
	// box's figures from after the pass.
	calls := 0
	if err := c.Pass(ctx, client.Options{HealthNow: func() wire.Health { calls++; return wire.Health{DiskUsed: int64(calls)} }}); err != nil {
		t.Fatal(err)
	}
	if h := e.archiveHealth(); calls == 0 || h.DiskUsed != int64(calls) {
		t.Fatalf("archive holds disk %d after %d health reads", h.DiskUsed, calls)
	}
}

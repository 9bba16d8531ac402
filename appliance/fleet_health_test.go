package appliance

import (
	"context"
	"testing"
	"time"

	"github.com/spanvault/spanvault/capture/decode"
	"github.com/spanvault/spanvault/capture/synth"
)

// TestFleetAgreesWithBox (issue 24 acceptance 4): the archive's fleet
// view (what its page and API render) holds the box's own status after
// a sync pass: the backlog still waiting, the disk, the clock. The box
// runs as the daemon does (its first check-in before the status page's
// first refresh), against a real archive over TLS with the certificate
// enrollment issued. Before, that check-in reported disk "0 / 0" and a
// clock "not synchronised" whatever the box knew.
func TestFleetAgreesWithBox(t *testing.T) {
	a := testAppliance(t, "")
	_, svc, c := syncedTo(t, a, "branch-fleet")
	ctx := context.Background()
	// Five calls recorded; the window is closed.
	g := synth.New(synth.Config{Calls: 5, Duration: 2 * time.Second, Start: time.Now().Add(-time.Hour)})
	g.Each(func(f synth.Frame) { a.live.P.Handle(f.Data, decode.LinkEthernet, f.Time) })
	a.live.P.Close("capture ended")

	check := func(step string) {
		t.Helper()
		a.refresh()
		st := a.Status()
		boxes, err := svc.Fleet(context.Background())
		if err != nil || len(boxes) != 1 {
			t.Fatalf("%s: fleet %v %v", step, boxes, err)
		}
		h := boxes[0].Health
		if h.Backlog != st.Sync.Pending || h.BacklogBytes != st.Sync.PendingBytes {
			t.Errorf("%s: fleet shows backlog %d (%d bytes), the box's status %d (%d bytes)", step, h.Backlog, h.BacklogBytes, st.Sync.Pending, st.Sync.PendingBytes)
		}
		// The vault's index may take a page between the check-in and the
		// box's own look; the recordings' bytes do not move.
		if h.DiskTotal != st.Disk.Limit || h.DiskUsed == 0 || abs(h.DiskUsed-st.Disk.Used) > 64<<10 {
			t.Errorf("%s: fleet shows disk %d / %d, the box's status %d / %d", step, h.DiskUsed, h.DiskTotal, st.Disk.Used, st.Disk.Limit)
		}
		if h.ClockSynced != st.Clock.Synced {
			t.Errorf("%s: fleet shows clock synchronised %v, the box's status %v", step, h.ClockSynced, st.Clock.Synced)
		}
	}
	a.syncOnce(ctx, c, false)
	if st := c.State(); st.Backlog < 5 || st.LastError != "" {
		t.Fatalf("box after a check-in outside the window: %+v", st)
	}
	check("outside the window")
	a.clockOK.Store(false) // the time source is lost
	a.syncOnce(ctx, c, true)
	if st := c.State(); st.Backlog != 0 || st.LastError != "" {
		t.Fatalf("box after an upload pass: %+v", st)
	}
	check("after an upload pass")
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

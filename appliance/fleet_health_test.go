package appliance

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/spanvault/spanvault/appliance/config"
	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/archive/keyring"
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
	adir := filepath.Join(t.TempDir(), "archive")
	if err := archive.Init(adir, archive.InitOptions{Name: "fleet-archive", Listen: "127.0.0.1:0"}); err != nil {
		t.Fatal(err)
	}
	arch, err := archive.Open(adir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := arch.Enroll(context.Background(), "branch-fleet", filepath.Join(t.TempDir(), "enroll"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- arch.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done; arch.Close() })
	id, _ := age.GenerateX25519Identity()
	keys, err := keyring.Parse([]byte(id.String()))
	if err != nil {
		t.Fatal(err)
	}
	svc := access.New(arch, keys)

	a.cfg.Sync = config.Sync{Name: "branch-fleet", Archives: []string{ln.Addr().String()},
		Cert: filepath.Join(r.Dir, "sync.crt"), Key: filepath.Join(r.Dir, "sync.key"),
		CA: filepath.Join(r.Dir, "ca.crt"), AnchorKey: filepath.Join(r.Dir, "anchor.vkey")}
	c, err := NewSyncClient(a.cfg, a.v)
	if err != nil {
		t.Fatal(err)
	}
	a.mu.Lock()
	a.sync = &syncer{c: c, started: time.Now()}
	a.mu.Unlock()
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

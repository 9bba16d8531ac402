package client_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spanvault/spanvault/appliance"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/internal/testkit"
	"github.com/spanvault/spanvault/sync/client"
	"github.com/spanvault/spanvault/sync/wire"
	"github.com/spanvault/spanvault/vault"
	"github.com/spanvault/spanvault/vault/retention"
)

// Acceptance 3: the uplink is down for a week. The box keeps recording,
// retention runs locally (a short-lived class goes even unsynced, the
// must-sync class stays), and when the link returns the backlog syncs
// inside the window under the cap, tombstones included.
func TestUplinkDownForAWeek(t *testing.T) {
	e := newEnv(t)
	e.policy.Classes = append(e.policy.Classes, retention.Class{Name: "scratch", Record: true, MaxAge: retention.Duration(3 * day), EvictUnsynced: true})
	e.policy.Rules = append(e.policy.Rules, retention.Rule{Numbers: []string{"+4930555001*"}, Class: "scratch"})
	e.v.Close()
	e.openVault()
	cfg := e.config()
	cfg.Rate = 4 << 20
	c, err := client.New(cfg, e.v)
	if err != nil {
		t.Fatal(err)
	}
	e.stopArchive() // the uplink goes down
	for d := 0; d < 7; d++ {
		e.record(synth.Config{Calls: 30, Concurrent: 10, Duration: 2 * time.Second, Start: e.clock.Now().Add(-time.Hour), Seed: uint64(d + 1)})
		if err := e.pass(c); err == nil || !strings.Contains(err.Error(), "no archive reachable") {
			t.Fatalf("day %d: pass with the link down: %v", d, err)
		}
		if _, err := e.v.Sweep(); err != nil {
			t.Fatal(err)
		}
		e.clock.Add(day)
	}
	es, _ := e.v.List()
	count := map[string]int{}
	for _, en := range es {
		if en.Recorded {
			count[en.Class]++
		}
		if en.Sync == vault.SyncAcked {
			t.Fatalf("%s acknowledged while the link was down", en.ID)
		}
	}
	if count["mifid"] != 70 || count["default"] != 70 {
		t.Fatalf("kept %v: must-sync and default recordings must all stay", count)
	}
	if count["scratch"] == 0 || count["scratch"] >= 70 {
		t.Fatalf("scratch recordings kept %d: retention did not run locally", count["scratch"])
	}
	tombs, _ := e.v.PendingTombstones()
	if len(tombs) == 0 {
		t.Fatal("no tombstones from the week's retention")
	}
	if c.State().LastError == "" || c.State().Backlog == 0 {
		t.Fatalf("status does not show the failing sync: %+v", c.State())
	}

	// The link returns. Outside the window only a check-in happens.
	e.startArchive()
	noon := time.Date(2026, 12, 1, 12, 0, 0, 0, time.Local)
	if appliance.InWindow("01:00-05:00", noon) {
		t.Fatal("noon inside 01:00-05:00")
	}
	if err := c.Pass(context.Background(), client.Options{Upload: appliance.InWindow("01:00-05:00", noon)}); err != nil {
		t.Fatal(err)
	}
	if p, _ := e.v.PendingSync(0); len(p) == 0 {
		t.Fatal("uploaded outside the window")
	}
	night := time.Date(2026, 12, 2, 2, 0, 0, 0, time.Local)
	if err := c.Pass(context.Background(), client.Options{Upload: appliance.InWindow("01:00-05:00", night)}); err != nil {
		t.Fatal(err)
	}
	e.checkAllArrived()
	rows := e.archiveRows()
	for _, tb := range tombs {
		if _, ok := rows[tb.ID+"/"+wire.KindTombstone]; !ok {
			t.Fatalf("tombstone %s missing at the archive", tb.ID)
		}
	}
	if st := c.State(); st.Backlog != 0 || st.LastError != "" {
		t.Fatalf("state after the backlog: %+v", st)
	}
}

// Acceptance 2: the archive process is SIGKILLed mid-upload, at several
// points; after a restart every recording arrives exactly once and the
// upload resumes from the archive's offset.
func TestArchiveKilledMidUpload(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the archive binary")
	}
	bin := testkit.GoBuild(t, "../../cmd/spanvault-archive")
	e := newEnv(t)
	e.stopArchive() // the binary serves instead
	e.record(synth.Config{Calls: 3, Duration: 60 * time.Second, Start: e.clock.Now().Add(-time.Hour)})
	pending, _ := e.v.PendingSync(0)
	var total int64
	for _, p := range pending {
		total += p.Size
	}
	var logs lockedBuffer
	serve := func() *exec.Cmd {
		cmd := exec.Command(bin, "serve", "-dir", e.dir, "-listen", e.addr)
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		deadline := time.Now().Add(30 * time.Second)
		for {
			conn, err := net.Dial("tcp", e.addr)
			if err == nil {
				conn.Close()
				return cmd
			}
			if time.Now().After(deadline) {
				t.Fatalf("archive did not listen: %v\n%s", err, logs.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	cfg := e.config()
	cfg.Rate = 512 << 10 // slow enough to kill mid-upload
	c, err := client.New(cfg, e.v)
	if err != nil {
		t.Fatal(err)
	}
	partial := e.partialDir()
	for _, at := range []int64{100 << 10, 600 << 10} {
		cmd := serve()
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- c.Pass(ctx, client.Options{Upload: true}) }()
		// Kill once the archive holds at bytes of some partial upload.
		deadline := time.Now().Add(60 * time.Second)
		for killed := false; !killed; {
			if time.Now().After(deadline) {
				t.Fatalf("upload never reached the kill point; client %+v\narchive:\n%s", c.State(), logs.String())
			}
			des, _ := os.ReadDir(partial)
			for _, d := range des {
				if fi, err := d.Info(); err == nil && fi.Size() >= at {
					cmd.Process.Signal(syscall.SIGKILL)
					cmd.Wait()
					killed = true
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
		err := <-errc
		cancel()
		if err == nil {
			t.Fatal("a pass survived the archive's death")
		}
	}
	serve()
	if err := e.pass(c); err != nil {
		t.Fatal(err)
	}
	if c.State().ResumedBytes == 0 {
		t.Fatal("no upload resumed from the archive's offset")
	}
	// Read what the binary wrote through a fresh open.
	e.startArchiveOnly(t)
	e.checkAllArrived()
	ap, _ := e.arch.Index.Appliance(context.Background(), e.box)
	if ap.BytesReceived > total {
		t.Fatalf("archive received %d bytes for %d: some were sent twice", ap.BytesReceived, total)
	}
}

package vault_test

import (
	"os/exec"
	"testing"
	"time"

	"github.com/spanvault/spanvault/capture"
	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/decode"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/vault"
	"github.com/spanvault/spanvault/vault/export"
)

// TestDiskFull fills a real, small tmpfs while calls are being recorded:
// no corruption, a clear error state, and recording resumes when room
// returns. Where mounting is not allowed it falls back to the quota.
func TestDiskFull(t *testing.T) {
	_, recips, ids := newKey(t)
	dir := t.TempDir()
	real := exec.Command("mount", "-t", "tmpfs", "-o", "size=3m,mode=0700", "tmpfs", dir).Run() == nil
	opt := vault.Options{Dir: dir, Recipients: recips, MinFreeBytes: 256 << 10, HighWater: 0.995}
	if real {
		t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
		t.Log("disk full for real: 3 MiB tmpfs")
	} else {
		opt.QuotaBytes = 2 << 20
		opt.HighWater = 0.95
		t.Log("cannot mount a tmpfs here; disk full simulated by a 2 MiB quota")
	}
	v, err := vault.Open(opt)
	if err != nil {
		t.Fatal(err)
	}
	// About 12 MB of calls into 3 MB.
	tr := calls.NewTracker(calls.Config{}, v, v)
	var done []*calls.Call
	tr.Done = func(c *calls.Call) { done = append(done, c) }
	p := capture.NewPipeline(decode.New(decode.DefaultOptions), tr)
	g := synth.New(synth.Config{Calls: 40, Concurrent: 10, Duration: 15 * time.Second})
	for {
		f, ok := g.Next()
		if !ok {
			break
		}
		p.Handle(f.Data, decode.LinkEthernet, f.Time)
	}
	p.Close("capture ended")
	if tr.Stats.RecordErrors == 0 {
		t.Fatal("disk filled up without any error reported")
	}
	if !v.Refusing() {
		t.Fatal("vault does not show the refusing state")
	}
	var errEvents int
	for _, c := range done {
		for _, e := range c.Events {
			if e.Kind == "record_error" {
				errEvents++
			}
		}
	}
	if errEvents == 0 {
		t.Fatal("no call carries the record error")
	}
	rep, err := v.Fsck(false)
	if err != nil || !rep.Clean() {
		t.Fatalf("fsck after disk full: %v %v %s", err, rep.Problems, rep.AuditError)
	}
	es, _ := v.List()
	complete := 0
	for _, e := range es {
		if e.State == vault.StateComplete {
			complete++
			if _, trunc, err := export.Frames(v, e.ID, ids); err != nil || trunc {
				t.Fatalf("finished recording %s damaged: %v", e.ID, err)
			}
		}
	}
	if complete == 0 {
		t.Fatal("nothing recorded before the disk filled")
	}
	v.Close()

	// Room returns: the archive acknowledged everything, and the quota (or
	// the file system) can be cleared by eviction.
	v, err = vault.Open(opt)
	if err != nil {
		t.Fatalf("reopen after disk full: %v", err)
	}
	defer v.Close()
	es, _ = v.List()
	for _, e := range es {
		if e.Recorded {
			if err := v.Acknowledge(e.ID, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
	}
	calls2 := recordSynth(t, v, synth.Config{Calls: 1, Duration: 2 * time.Second, Seed: 99, Start: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)})
	if len(calls2) != 1 || !calls2[0].Recorded {
		t.Fatal("recording did not resume when room returned")
	}
	if v.Refusing() {
		t.Fatal("still refusing after room was made")
	}
	if rep, err := v.Fsck(false); err != nil || !rep.Clean() {
		t.Fatalf("fsck after recovery: %v %v", err, rep.Problems)
	}
}

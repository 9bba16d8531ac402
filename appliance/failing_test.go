//go:build linux

package appliance_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/capture/ring/ringtest"
)

// A vault directory that is not writable for a while (a remounted or
// damaged file system) makes recordings fail: the box must say so on the
// page, the LED and an alert, and record again once it can, never look
// healthy meanwhile. The daemon runs without capabilities, so file modes
// bind it as they would any process.
func TestUnwritableVaultIsReported(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	ns := ringtest.NewNetns(t, "svfail")
	b := newBox(t, ns, "")
	b.start()
	b.waitFor("the daemon to drop its capabilities", 10*time.Second, func() bool {
		return strings.Contains(b.logs.String(), "capabilities dropped")
	})
	uas := answerCalls(t, ns, 4)
	uas.call(1)
	b.waitFor("the first recording", 20*time.Second, func() bool { return num(b.status(), "calls", "recorded_since_start") == 1 })
	if st := b.status(); st["healthy"] != true || st["led"] != "recording" {
		t.Fatalf("before: healthy %v, LED %v", st["healthy"], st["led"])
	}

	// The recordings' directories become read-only.
	rec := filepath.Join(b.vault, "rec")
	setModes := func(mode os.FileMode) {
		filepath.WalkDir(rec, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(p, mode)
			}
			return nil
		})
	}
	setModes(0o500)
	t.Cleanup(func() { setModes(0o700) })
	uas.call(2)
	b.waitFor("the failures to be counted", 20*time.Second, func() bool { return num(b.status(), "calls", "record_errors") >= 2 })
	st := b.status()
	calls, _ := st["calls"].(map[string]any)
	if st["healthy"] != false || st["led"] != "disk-full" || calls["recording_failing"] != true {
		t.Fatalf("recording fails but the box says: healthy %v, LED %v, calls %v", st["healthy"], st["led"], calls)
	}
	if !strings.Contains(b.page(), "Needs attention") || !strings.Contains(b.logs.String(), "recording_failed") {
		t.Fatalf("the page or the alert does not report the failure:\n%s", b.logs)
	}

	// Writable again: the next call is recorded, and the box keeps
	// showing that recordings were lost (for RecordFailingFor).
	setModes(0o700)
	uas.call(1)
	uas.wait()
	b.waitFor("a recording after the failure", 20*time.Second, func() bool { return num(b.status(), "calls", "recorded_since_start") == 2 })
	if st := b.status(); st["healthy"] != false || st["led"] != "disk-full" {
		t.Fatalf("after: healthy %v, LED %v (the lost calls must stay visible)", st["healthy"], st["led"])
	}
}

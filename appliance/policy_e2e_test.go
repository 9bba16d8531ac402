package appliance_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/spanvault/spanvault/capture/ring/ringtest"
)

// TestDaemonCentralPolicyWindow (acceptance 2, the window): a running box
// whose upload window is closed holds a recorded call; the archive moves
// the window with spanvault-archive policy set; at its next check-in the
// daemon applies it without a restart, uploads the call, shows the new
// window and reports the version; after a restart the policy stays.
func TestDaemonCentralPolicyWindow(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	ns := ringtest.NewNetns(t, "svpolicy")
	arc := startArchive(t, ns, archiveOptions{Listen: "127.0.0.1:18446", Enroll: "branch-pol"})

	// A window of one minute twelve hours away: closed for the test.
	from := time.Now().Add(12 * time.Hour)
	to := from.Add(time.Minute)
	closed := fmt.Sprintf("%02d:%02d-%02d:%02d", from.Hour(), from.Minute(), to.Hour(), to.Minute())
	b := newBox(t, ns, arc.syncSection(schedule{Window: closed, CheckInEvery: "10s"}))
	b.start()

	placeCalls(t, ns, 1)
	ended := time.Now()
	recordings := func() int {
		rows, err := arc.recordings("branch-pol")
		if err != nil {
			return -1
		}
		return len(rows)
	}
	// A check-in after the call, outside the window: the call waits.
	waitFor(t, "a check-in after the call with the call pending", 40*time.Second, func() bool {
		sync, _ := b.status()["sync"].(map[string]any)
		ls, _ := sync["last_success"].(string)
		at, _ := time.Parse(time.RFC3339Nano, ls)
		return num(sync, "pending") >= 1 && at.After(ended)
	})
	if n := recordings(); n != 0 {
		t.Fatalf("the box uploaded %d recordings outside its window", n)
	}

	pol := filepath.Join(t.TempDir(), "policy.toml")
	os.WriteFile(pol, []byte("[sync]\nwindow = \"00:00-24:00\"\n"), 0o600)
	arc.admin("policy", "set", "-dir", arc.dir, "-target", "box:branch-pol", "-f", pol)
	waitFor(t, "the moved window to let the call through", 60*time.Second, func() bool { return recordings() >= 1 })
	waitFor(t, "the status page to show the new window", 20*time.Second, func() bool {
		sync, _ := b.status()["sync"].(map[string]any)
		return sync["window"] == "00:00-24:00"
	})
	waitFor(t, "the archive to record the version the box applied", 30*time.Second, func() bool {
		out, err := arc.run("policy", "show", "-dir", arc.dir, "-box", "branch-pol")
		return err == nil && regexp.MustCompile(`branch-pol: in force`).MatchString(out)
	})
	b.stop()
	b.start()
	waitFor(t, "the restarted box to keep the policy", 20*time.Second, func() bool {
		sync, _ := b.status()["sync"].(map[string]any)
		return sync["window"] == "00:00-24:00"
	})
}

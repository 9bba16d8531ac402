package appliance_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/capture/ring/ringtest"
	"github.com/spanvault/spanvault/sync/wire"
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
	adir := filepath.Join(t.TempDir(), "archive")
	if err := archive.Init(adir, archive.InitOptions{Name: "e2e-archive", Listen: "127.0.0.1:18446"}); err != nil {
		t.Fatal(err)
	}
	a, err := archive.Open(adir)
	if err != nil {
		t.Fatal(err)
	}
	enroll := filepath.Join(t.TempDir(), "enroll")
	if _, err := a.Enroll(context.Background(), "branch-pol", enroll, nil); err != nil {
		t.Fatal(err)
	}
	a.Close()
	ops := approver(t, adir)
	bin := filepath.Join(t.TempDir(), "spanvault-archive")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/spanvault-archive").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	srv := ns.Command(bin, "serve", "-dir", adir)
	var alog lockedBuffer
	srv.Stdout, srv.Stderr = &alog, &alog
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })

	// A window of one minute twelve hours away: closed for the test.
	from := time.Now().Add(12 * time.Hour)
	to := from.Add(time.Minute)
	closed := fmt.Sprintf("%02d:%02d-%02d:%02d", from.Hour(), from.Minute(), to.Hour(), to.Minute())
	section, err := os.ReadFile(filepath.Join(enroll, "sync.toml"))
	if err != nil {
		t.Fatal(err)
	}
	s := regexp.MustCompile(`(?m)^window = .*$`).ReplaceAllString(string(section), `window = "`+closed+`"`)
	s = regexp.MustCompile(`(?m)^check_in_every = .*$`).ReplaceAllString(s, `check_in_every = "10s"`)
	b := newBox(t, ns, s)
	b.start()

	work := t.TempDir()
	uas := sipp(t, ns, "-sf", scenario(t, work, "uas.xml"), "-i", "127.0.0.1", "-p", "5070", "-mi", "127.0.0.1", "-mp", "20000", "-m", "1")
	time.Sleep(200 * time.Millisecond)
	plain := scenario(t, work, "uac.xml", "[$audio]", "/usr/share/sip-tester/g711a.pcap", dtmfBlock, "")
	sipp(t, ns, "127.0.0.1:5070", "-sf", plain, "-s", "3001", "-i", "127.0.0.1", "-p", "6070", "-mi", "127.0.0.1", "-mp", "30000", "-m", "1").wait(t)
	uas.wait(t)
	ended := time.Now()
	recordings := func() int {
		x, err := index.Open(filepath.Join(adir, "index.db"))
		if err != nil {
			return -1
		}
		defer x.Close()
		rows, _ := x.Records(context.Background(), index.Query{Appliance: "branch-pol", Kind: wire.KindRecording})
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
	set := exec.Command(bin, "policy", "set", "-dir", adir, "-target", "box:branch-pol", "-f", pol, "-by", "ops")
	set.Stdin = strings.NewReader(ops.password + "\n" + ops.code(t, 0) + "\n") // policy set checks its admin
	if out, err := set.CombinedOutput(); err != nil {
		t.Fatalf("policy set: %v %s", err, out)
	}
	waitFor(t, "the moved window to let the call through", 60*time.Second, func() bool { return recordings() >= 1 })
	waitFor(t, "the status page to show the new window", 20*time.Second, func() bool {
		sync, _ := b.status()["sync"].(map[string]any)
		return sync["window"] == "00:00-24:00"
	})
	waitFor(t, "the archive to record the version the box applied", 30*time.Second, func() bool {
		out, err := exec.Command(bin, "policy", "show", "-dir", adir, "-box", "branch-pol").CombinedOutput()
		return err == nil && regexp.MustCompile(`branch-pol: in force`).Match(out)
	})
	b.stop()
	b.start()
	waitFor(t, "the restarted box to keep the policy", 20*time.Second, func() bool {
		sync, _ := b.status()["sync"].(map[string]any)
		return sync["window"] == "00:00-24:00"
	})
}

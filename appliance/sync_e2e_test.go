package appliance_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/capture/ring/ringtest"
	"github.com/spanvault/spanvault/sync/wire"
)

// TestDaemonSyncsToArchive runs the box as it runs on a branch, with a
// [sync] section written by enroll, and an archive serving in the same
// network namespace: the daemon checks in on its schedule, anchors its
// audit chain, uploads the calls it recorded inside its window, and its
// status page shows the sync.
func TestDaemonSyncsToArchive(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	ns := ringtest.NewNetns(t, "svsync")
	adir := filepath.Join(t.TempDir(), "archive")
	if err := archive.Init(adir, archive.InitOptions{Name: "e2e-archive", Listen: "127.0.0.1:18444"}); err != nil {
		t.Fatal(err)
	}
	a, err := archive.Open(adir)
	if err != nil {
		t.Fatal(err)
	}
	enroll := filepath.Join(t.TempDir(), "enroll")
	if _, err := a.Enroll(context.Background(), "branch-e2e", enroll, nil); err != nil {
		t.Fatal(err)
	}
	a.Close()
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

	// The enrolled section, with a window that is always open and a short
	// check-in interval for the test.
	section, err := os.ReadFile(filepath.Join(enroll, "sync.toml"))
	if err != nil {
		t.Fatal(err)
	}
	s := regexp.MustCompile(`(?m)^window = .*$`).ReplaceAllString(string(section), `window = "00:00-24:00"`)
	s = regexp.MustCompile(`(?m)^check_in_every = .*$`).ReplaceAllString(s, `check_in_every = "10s"`)
	b := newBox(t, ns, s)
	b.start()

	work := t.TempDir()
	uas := sipp(t, ns, "-sf", scenario(t, work, "uas.xml"), "-i", "127.0.0.1", "-p", "5070", "-mi", "127.0.0.1", "-mp", "20000", "-m", "2")
	time.Sleep(200 * time.Millisecond)
	plain := scenario(t, work, "uac.xml", "[$audio]", "/usr/share/sip-tester/g711a.pcap", dtmfBlock, "")
	sipp(t, ns, "127.0.0.1:5070", "-sf", plain, "-s", "3001", "-i", "127.0.0.1", "-p", "6070", "-mi", "127.0.0.1", "-mp", "30000", "-m", "2", "-r", "10").wait(t)
	uas.wait(t)

	// The calls are sealed at BYE; the next check-in (10 s) uploads them.
	var rows []index.Record
	waitFor(t, "the daemon to sync both recordings to the archive", 60*time.Second, func() bool {
		x, err := index.Open(filepath.Join(adir, "index.db"))
		if err != nil {
			return false
		}
		defer x.Close()
		rows, _ = x.Records(context.Background(), index.Query{Appliance: "branch-e2e", Kind: wire.KindRecording})
		return len(rows) >= 2
	})
	st := b.status()
	sync, _ := st["sync"].(map[string]any)
	if sync["configured"] != true || sync["last_success"] == nil || sync["window"] != "00:00-24:00" || sync["cert_not_after"] == nil {
		t.Fatalf("status page sync: %v", sync)
	}
	waitFor(t, "the backlog to reach zero on the status page", 30*time.Second, func() bool {
		sync, _ := b.status()["sync"].(map[string]any)
		return num(sync, "pending") == 0 && sync["state"] == "ok"
	})
	b.stop()
	v := openVault(t, b)
	es, _ := v.List()
	for _, e := range es {
		if e.Recorded && e.Sync != "acked" {
			t.Fatalf("%s not acknowledged on the box", e.ID)
		}
	}
	head, _ := v.AuditHead()
	x, err := index.Open(filepath.Join(adir, "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	ap, _ := x.Appliance(context.Background(), "branch-e2e")
	if ap.AnchoredSeq == 0 || ap.AnchoredSeq > head.Seq || ap.Health == "{}" {
		t.Fatalf("archive anchored %d of %d audit entries; health %s", ap.AnchoredSeq, head.Seq, ap.Health)
	}
}

package appliance_test

import (
	"testing"
	"time"

	"github.com/spanvault/spanvault/capture/ring/ringtest"
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
	arc := startArchive(t, ns, archiveOptions{Listen: "127.0.0.1:18444", Enroll: "branch-e2e"})

	// The enrolled section, with a window that is always open and a short
	// check-in interval for the test.
	b := newBox(t, ns, arc.syncSection(schedule{Window: "00:00-24:00", CheckInEvery: "10s"}))
	b.start()

	placeCalls(t, ns, 2)

	// The calls are sealed at BYE; the next check-in (10 s) uploads them.
	waitFor(t, "the daemon to sync both recordings to the archive", 60*time.Second, func() bool {
		rows, _ := arc.recordings("branch-e2e")
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
	ap, err := arc.appliance("branch-e2e")
	if err != nil {
		t.Fatal(err)
	}
	if ap.AnchoredSeq == 0 || ap.AnchoredSeq > head.Seq || ap.Health == "{}" {
		t.Fatalf("archive anchored %d of %d audit entries; health %s", ap.AnchoredSeq, head.Seq, ap.Health)
	}
}

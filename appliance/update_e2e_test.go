package appliance_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/appliance/firmware"
	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/capture/ring/ringtest"
	"github.com/spanvault/spanvault/sync/wire"
	"github.com/spanvault/spanvault/vault"
)

// TestDaemonFirmwareUpdate runs the daemon binary as the box runs it,
// firmware 7, against the archive binary (spanvault-archive serve in the
// box's network namespace), whose operator signs, publishes and rolls
// out firmware 8 with `spanvault-archive update sign|publish|roll` to
// the box (its own canary): the daemon is offered it at check-in,
// downloads it from the archive under its rate cap and installs it (a
// directory installer stands in for gokrazy, which the image's qemu test
// exercises), stops capture and asks for the reboot, and waits for the
// stop signal as under gokrazy. Restarted with firmware 8's identity, it
// confirms at its first healthy pass, reports it at check-in, shows it
// on its status page, and its audit trail holds the write and the
// confirmation with the capture gap; `update status` shows the box
// confirmed and the rollout done.
//
// Then firmware 9 is rolled out the same way and written, but its daemon
// never comes up healthy (here: never starts): the init's watchdog
// (firmware.Watchdog) reboots into the old root, firmware 8, which
// reports the rollback at check-in; `update status` shows the box failed
// with the box's reason and the rollout stopped by itself (a canary's
// failure is over any threshold).
func TestDaemonFirmwareUpdate(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	ns := ringtest.NewNetns(t, "svupdate")
	arc := startArchive(t, ns, archiveOptions{Listen: "127.0.0.1:18447", Enroll: "branch-fw"})
	adir, admin := arc.dir, arc.admin
	// update roll checks its operator: an admin of the access service,
	// password and a current code on stdin.
	ops := arc.ops()
	operator := func(args ...string) string {
		t.Helper()
		out, err := ops.run(append(args, "-by", "ops")...)
		if err != nil {
			t.Fatalf("spanvault-archive %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	// The operator's release: a build signed with the archive's update
	// key, published and rolled out to the box.
	release := func(serial, version string, root, boot []byte) {
		t.Helper()
		src := t.TempDir()
		os.WriteFile(filepath.Join(src, "root"), root, 0o600)
		os.WriteFile(filepath.Join(src, "boot"), boot, 0o600)
		out := filepath.Join(src, "update")
		admin("update", "sign", "-dir", adir, "-root", filepath.Join(src, "root"), "-boot", filepath.Join(src, "boot"),
			"-serial", serial, "-version", version, "-arch", "arm64", "-o", out)
		admin("update", "publish", "-dir", adir, "-update", out, "-by", "ops")
		if o := operator("update", "roll", "-dir", adir, "-serial", serial, "-target", "box:branch-fw", "-confirm", "10m"); !strings.Contains(o, "of update "+serial+" started") {
			t.Fatalf("update roll: %s", o)
		}
	}
	rollout := func(id string) archive.RolloutStatus {
		t.Helper()
		var st archive.RolloutStatus
		if err := json.Unmarshal([]byte(admin("update", "status", "-dir", adir, "-rollout", id, "-json")), &st); err != nil || len(st.Boxes) != 1 {
			t.Fatalf("update status: %+v %v", st, err)
		}
		return st
	}
	// What the archive holds of the box's last check-in.
	health := func() wire.Health {
		t.Helper()
		ap, err := arc.appliance("branch-fw")
		if err != nil {
			t.Fatal(err)
		}
		var h wire.Health
		if ap.Health != "" {
			if err := json.Unmarshal([]byte(ap.Health), &h); err != nil {
				t.Fatal(err)
			}
		}
		return h
	}

	// The enrolled section as enroll wrote it (update_key included), with
	// a window that is always open and a short check-in interval.
	s := arc.syncSection(schedule{Window: "00:00-24:00", CheckInEvery: "10s"})
	s += "\n[update]\ndir = \"update\"\nfirmware = \"firmware.json\"\ninstaller = \"dir\"\ninstaller_dir = \"partitions\"\n"
	b := newBox(t, ns, s)
	fw := func(serial string) {
		os.WriteFile(filepath.Join(b.dir, "firmware.json"), []byte(`{"serial":`+serial+`,"version":"2026.12.06-`+serial+`","arch":"arm64"}`), 0o644)
	}
	fw("7")

	root, boot := bytes.Repeat([]byte("squashfs"), 256<<10), bytes.Repeat([]byte("FAT"), 100000)
	release("8", "2026.12.06-8", root, boot)

	b.start()
	parts := &firmware.Dir{Path: filepath.Join(b.dir, "partitions")}
	waitFor(t, "the update to be written and the reboot asked for", 60*time.Second, func() bool {
		ev, _ := parts.Events()
		return strings.Join(ev, " ") == "write:root.img write:boot.img testboot reboot"
	})
	p, err := firmware.ReadPending(filepath.Join(b.dir, "update"))
	if err != nil || p == nil || p.Serial != 8 || p.FromSerial != 7 || p.CaptureStopped.IsZero() || p.Within() != 10*time.Minute {
		t.Fatalf("pending %+v %v", p, err)
	}
	if h := health(); h.UpdateState != wire.UpdateWritten || h.FirmwareSerial != 7 || h.UpdateSerial != 8 {
		t.Fatalf("before the reboot: %+v", h)
	}
	if st := rollout("1"); st.Boxes[0].State != wire.UpdateWritten {
		t.Fatalf("the archive's rollout before the reboot: %+v", st.Boxes[0])
	}
	if got, _ := os.ReadFile(filepath.Join(parts.Path, "root.img")); !bytes.Equal(got, root) {
		t.Fatal("root partition differs")
	}
	b.stop() // gokrazy's SIGTERM before it reboots

	fw("8")
	b.start()
	waitFor(t, "firmware 8 to confirm and say so at check-in", 60*time.Second, func() bool {
		h := health()
		return h.FirmwareSerial == 8 && h.UpdateState == wire.UpdateConfirmed && h.UpdateSerial == 8
	})
	if st := rollout("1"); st.Boxes[0].State != archive.BoxConfirmed || st.State != index.RolloutDone {
		t.Fatalf("the archive's rollout after the reboot: %s, %+v\n%s", st.State, st.Boxes[0], admin("update", "status", "-dir", adir, "-rollout", "1"))
	}
	st := b.status()
	fwst, _ := st["firmware"].(map[string]any)
	if num(fwst, "serial") != 8 || fwst["update_state"] != "confirmed" || fwst["version"] != "2026.12.06-8" {
		t.Fatalf("status page firmware %v", fwst)
	}
	if !strings.Contains(b.page(), "Firmware 2026.12.06-8 (serial 8, arm64)") {
		t.Fatal("status page does not show the firmware")
	}
	if ev, _ := parts.Events(); ev[len(ev)-1] != "switch" {
		t.Fatalf("installer calls %q", ev)
	}

	// Firmware 9: written, then its daemon never comes up.
	release("9", "2026.12.06-9", bytes.Repeat([]byte("squash-9"), 256<<10), boot)
	waitFor(t, "update 9 to be written and the reboot asked for", 60*time.Second, func() bool {
		ev, _ := parts.Events()
		return strings.Join(ev, " ") == "write:root.img write:boot.img testboot reboot switch write:root.img write:boot.img testboot reboot"
	})
	b.stop()
	v, err := vault.Open(vault.Options{Dir: b.vault})
	if err != nil {
		t.Fatal(err)
	}
	head, err := v.AuditHead()
	if err != nil {
		t.Fatal(err)
	}
	es, err := v.AuditEntries(1, int(head.Seq))
	if err != nil {
		t.Fatal(err)
	}
	v.Close()
	var written, confirmed string
	for _, en := range es {
		switch en.Action {
		case "firmware_update":
			if written == "" {
				written = en.Detail
			}
		case "firmware_confirmed":
			confirmed = en.Detail
		}
	}
	if !strings.Contains(written, "firmware update 8 (2026.12.06-8, rollout 1) written, rebooting") {
		t.Fatalf("audit of the write: %q", written)
	}
	if !strings.Contains(confirmed, "firmware 8 (2026.12.06-8) confirmed; capture gap from "+p.CaptureStopped.UTC().Format(time.RFC3339Nano)) {
		t.Fatalf("audit of the confirmation: %q", confirmed)
	}
	t.Logf("%s", confirmed)

	// The test boot of firmware 9: its daemon does not start; the init's
	// watchdog, its time up, finds 9 unconfirmed and reboots, into 8.
	rebooted := false
	wd := &firmware.Watchdog{Dir: filepath.Join(b.dir, "update"), Serial: 9, Cmdline: "init=/gokrazy/init " + firmware.TestBootFlag,
		After:  func(time.Duration) <-chan time.Time { c := make(chan time.Time, 1); c <- time.Now(); return c },
		Reboot: func() error { rebooted = true; return nil }, Logf: t.Logf}
	if err := wd.Run(context.Background()); err != nil || !rebooted {
		t.Fatalf("watchdog: %v, rebooted %v", err, rebooted)
	}
	b.start() // firmware.json still says 8: the old root
	const why = "firmware 9 did not confirm within 10m0s; running 8 again"
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		h := health()
		if h.FirmwareSerial == 8 && h.UpdateState == wire.UpdateRolledBack && h.UpdateSerial == 9 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("firmware 8 did not report the rollback of 9 at check-in: %+v\n%s", h, b.logs)
		}
	}
	if h := health(); h.UpdateFailure != why {
		t.Fatalf("reported %+v", h)
	}
	st2 := rollout("2")
	if st2.Boxes[0].State != archive.BoxFailed || st2.Boxes[0].Reason != why || st2.State != index.RolloutStopped || !strings.Contains(st2.EndReason, "the canary branch-fw failed") {
		t.Fatalf("the archive's rollout of 9: %s (%s), %+v", st2.State, st2.EndReason, st2.Boxes[0])
	}
	t.Logf("rollout 2: %s (%s); box: %s: %s", st2.State, st2.EndReason, st2.Boxes[0].State, st2.Boxes[0].Reason)
	b.stop()
}

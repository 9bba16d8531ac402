package appliance

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/sync/wire"
)

// TestUpdateLeavesTestBoot: firmware 8, test-booted by gokrazy (the
// kernel's command line still names firmware 7's root, and gokrazy's
// update targets follow it), confirms after its first healthy pass and
// then reboots once more, into a boot whose command line names its own
// root, auditing why; before, it went on running the test boot, and the
// next update it wrote overwrote its own root (image
// TestVMUpdateAndRollback rolled back to firmware 7).
func TestUpdateLeavesTestBoot(t *testing.T) {
	e := newUpdEnv(t)
	e.installed()

	a := e.start(8, "")
	a.upd.testBoot = true // as /proc/cmdline says in gokrazy's test boot
	e.pass(a, false)
	if h := e.health(); h.FirmwareSerial != 8 || h.UpdateState != wire.UpdateConfirmed {
		t.Fatalf("after the first healthy pass: %+v", h)
	}
	if !e.rebootRequested(a) {
		t.Fatal("confirmed in the test boot and kept running it: the next update would overwrite the running root")
	}
	stopped := time.Now()
	e.reboot(a, stopped)
	if ev, _ := e.parts.Events(); strings.Join(ev[len(ev)-2:], " ") != "switch reboot" {
		t.Fatalf("installer calls %q", ev)
	}
	if au := audits(t, a.v, "firmware_reboot"); len(au) != 1 || !strings.Contains(au[0], "out of the test boot of firmware 8") ||
		!strings.Contains(au[0], "capture stopped at "+stopped.UTC().Format(time.RFC3339Nano)) {
		t.Fatalf("audit %q", au)
	}
}

// TestUpdateNotWrittenFromTestBoot: a box still in a test boot (its
// daemon restarted after the confirmation) that is offered an update
// downloads it but reboots before writing it; after the reboot it writes
// the download it kept.
func TestUpdateNotWrittenFromTestBoot(t *testing.T) {
	e := newUpdEnv(t)
	a := e.start(7, "")
	a.upd.testBoot = true
	e.offer()
	e.pass(a, true)
	if !e.rebootRequested(a) {
		t.Fatal("no reboot out of the test boot")
	}
	if ev, _ := e.parts.Events(); len(ev) != 0 {
		t.Fatalf("written from a test boot: %q", ev)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "update", rootPart)); err != nil {
		t.Fatalf("download not kept: %v", err)
	}
	e.reboot(a, time.Now())
	if au := audits(t, a.v, "firmware_reboot"); len(au) != 1 || !strings.Contains(au[0], "update 8 is written from a boot") {
		t.Fatalf("audit %q", au)
	}

	a = e.start(7, "") // the boot after: not a test boot
	e.pass(a, true)
	if !e.rebootRequested(a) {
		t.Fatal("not installed after the reboot")
	}
	if ev, _ := e.parts.Events(); strings.Join(ev, " ") != "reboot write:root.img write:boot.img testboot" {
		t.Fatalf("installer calls %q", ev)
	}
	if gets := e.reqs.Lines(); len(gets) != 2 {
		t.Fatalf("downloaded again after the reboot: %q", gets)
	}
}

// TestUpdateRollbackNotRetried: firmware 7, booted again after update 8
// did not confirm, checks in before it has read pending.json (the
// enrolled box's sync starts before its capture); the archive offers 8
// again. The box neither takes it nor reports anything but the rollback
// once it has read its state: before, it downloaded and wrote 8 again,
// reported "written" over "rolled-back", and test-booted the failing
// firmware in a loop (image TestVMUpdateAndRollback).
func TestUpdateRollbackNotRetried(t *testing.T) {
	e := newUpdEnv(t)
	a, _ := e.installed()
	dir := filepath.Join(e.dir, "update")
	pending, err := os.ReadFile(filepath.Join(dir, "pending.json"))
	if err != nil {
		t.Fatal(err)
	}
	written := a.sync.(*syncer).c.UpdateReport()

	// Firmware 8's trial failed; 7 boots again. As before its capture
	// starts: pending.json unread, the state still "written".
	a = e.start(7, "")
	os.WriteFile(filepath.Join(dir, "pending.json"), pending, 0o600)
	if err := a.sync.(*syncer).c.SetUpdateReport(written); err != nil {
		t.Fatal(err)
	}
	a.upd.started, a.upd.ready = false, false
	e.pass(a, true) // the archive offers 8 again
	a.updateAtStart()
	e.pass(a, true) // and again
	if e.rebootRequested(a) {
		ev, _ := e.parts.Events()
		t.Fatalf("update 8, rolled back, written again: %q", ev)
	}
	if h := e.health(); h.FirmwareSerial != 7 || h.UpdateState != wire.UpdateRolledBack || h.UpdateSerial != 8 || h.UpdateFailure == "" {
		t.Fatalf("after the rollback: %+v", h)
	}
}

package firmware_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/spanvault/spanvault/appliance/firmware"
	"github.com/spanvault/spanvault/sync/wire"
)

func TestReadInfo(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "firmware.json")
	// Absent: serial 0 (not an update-built image), the binary's version.
	in, err := firmware.ReadInfo(p, "dev-1")
	if err != nil || in.Serial != 0 || in.Version != "dev-1" || in.Arch != runtime.GOARCH {
		t.Fatalf("absent: %+v %v", in, err)
	}
	os.WriteFile(p, []byte(`{"serial":7,"version":"2026.12.06-1","arch":"arm64"}`), 0o644)
	in, err = firmware.ReadInfo(p, "dev-1")
	if err != nil || in.Serial != 7 || in.Version != "2026.12.06-1" || in.Arch != "arm64" {
		t.Fatalf("present: %+v %v", in, err)
	}
	for _, bad := range []string{`{"serial":7,"version":"x","arch":"arm64","extra":1}`, `not json`, `{"serial":-1}`} {
		os.WriteFile(p, []byte(bad), 0o644)
		if _, err := firmware.ReadInfo(p, "dev"); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

func TestPendingAndConfirmed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "update")
	if p, err := firmware.ReadPending(dir); p != nil || err != nil {
		t.Fatalf("no pending: %v %v", p, err)
	}
	at := time.Date(2026, 12, 6, 2, 0, 0, 0, time.UTC)
	want := firmware.Pending{Serial: 8, Version: "v8", Rollout: 3, ConfirmWithin: wire.Duration(20 * time.Minute), WrittenAt: at, FromSerial: 7, FromVersion: "v7"}
	if err := firmware.WritePending(dir, want); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, firmware.PendingFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("pending.json: %v %v", st, err)
	}
	if d, _ := os.Stat(dir); d.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode %o", d.Mode().Perm())
	}
	got, err := firmware.ReadPending(dir)
	if err != nil || *got != want {
		t.Fatalf("read back %+v %v", got, err)
	}
	if s, ok := firmware.Confirmed(dir); ok {
		t.Fatalf("confirmed %d before any confirmation", s)
	}
	if err := firmware.WriteConfirmed(dir, 8, at); err != nil {
		t.Fatal(err)
	}
	if s, ok := firmware.Confirmed(dir); !ok || s != 8 {
		t.Fatalf("confirmed %d %v", s, ok)
	}
	if err := firmware.ClearPending(dir); err != nil {
		t.Fatal(err)
	}
	if p, err := firmware.ReadPending(dir); p != nil || err != nil {
		t.Fatalf("cleared: %v %v", p, err)
	}
}

// watchdog runs the init's rollback watchdog with an injected timer and
// reboot.
type watchdog struct {
	w       *firmware.Watchdog
	fire    chan time.Time
	armed   chan time.Duration
	reboots int
}

func newWatchdog(t *testing.T, dir, cmdline string, serial uint64) *watchdog {
	wd := &watchdog{fire: make(chan time.Time, 1), armed: make(chan time.Duration, 1)}
	wd.w = &firmware.Watchdog{
		Dir: dir, Serial: serial, Cmdline: cmdline,
		After:  func(d time.Duration) <-chan time.Time { wd.armed <- d; return wd.fire },
		Reboot: func() error { wd.reboots++; return nil },
		Logf:   t.Logf,
	}
	return wd
}

const testBoot = "console=ttyAMA0 root=PARTUUID=cafe0001-02 init=/gokrazy/init gokrazy.try_boot_inactive=1"

func TestWatchdogRollsBackUnconfirmed(t *testing.T) {
	dir := t.TempDir()
	firmware.WritePending(dir, firmware.Pending{Serial: 8, ConfirmWithin: wire.Duration(20 * time.Minute), WrittenAt: time.Now(), FromSerial: 7})
	wd := newWatchdog(t, dir, testBoot, 8)
	done := make(chan error, 1)
	go func() { done <- wd.w.Run(context.Background()) }()
	if d := <-wd.armed; d != 20*time.Minute {
		t.Fatalf("armed for %v", d)
	}
	wd.fire <- time.Now()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if wd.reboots != 1 {
		t.Fatalf("%d reboots for an unconfirmed test boot", wd.reboots)
	}
}

func TestWatchdogConfirmedKeepsRunning(t *testing.T) {
	dir := t.TempDir()
	firmware.WritePending(dir, firmware.Pending{Serial: 8, ConfirmWithin: wire.Duration(time.Minute), FromSerial: 7})
	wd := newWatchdog(t, dir, testBoot, 8)
	done := make(chan error, 1)
	go func() { done <- wd.w.Run(context.Background()) }()
	<-wd.armed
	// The daemon confirms before the timer fires.
	firmware.WriteConfirmed(dir, 8, time.Now())
	wd.fire <- time.Now()
	if err := <-done; err != nil || wd.reboots != 0 {
		t.Fatalf("confirmed firmware rebooted %d times (%v)", wd.reboots, err)
	}
}

func TestWatchdogNotArmed(t *testing.T) {
	for _, c := range []struct {
		name, cmdline string
		pending       *firmware.Pending
		serial        uint64
	}{
		{"no test boot", "root=PARTUUID=cafe0001-03 gokrazy.switch_on_boot=1", &firmware.Pending{Serial: 8}, 8},
		{"no pending", testBoot, nil, 8},
		{"pending for another serial", testBoot, &firmware.Pending{Serial: 9}, 8},
		{"the flag as part of another word", "x.gokrazy.try_boot_inactive=10", &firmware.Pending{Serial: 8}, 8},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if c.pending != nil {
				firmware.WritePending(dir, *c.pending)
			}
			wd := newWatchdog(t, dir, c.cmdline, c.serial)
			if err := wd.w.Run(context.Background()); err != nil && !errors.Is(err, firmware.ErrNotArmed) {
				t.Fatal(err)
			}
			if len(wd.armed) != 0 || wd.reboots != 0 {
				t.Fatalf("armed %d, rebooted %d", len(wd.armed), wd.reboots)
			}
		})
	}
	// Confirmed already (a reboot after the switch raced the marker).
	dir := t.TempDir()
	firmware.WritePending(dir, firmware.Pending{Serial: 8})
	firmware.WriteConfirmed(dir, 8, time.Now())
	wd := newWatchdog(t, dir, testBoot, 8)
	wd.w.Run(context.Background())
	if len(wd.armed) != 0 {
		t.Fatal("armed for a confirmed firmware")
	}
}

func TestBootedInto(t *testing.T) {
	dir := t.TempDir()
	t1 := time.Date(2026, 12, 6, 2, 0, 0, 0, time.UTC)
	if at, err := firmware.BootedInto(dir, 7, t1); err != nil || !at.Equal(t1) {
		t.Fatalf("%v %v", at, err)
	}
	// A reboot into the same firmware keeps the first time; another
	// firmware starts a new one.
	if at, _ := firmware.BootedInto(dir, 7, t1.Add(time.Hour)); !at.Equal(t1) {
		t.Fatalf("same firmware: %v", at)
	}
	if at, _ := firmware.BootedInto(dir, 8, t1.Add(2*time.Hour)); !at.Equal(t1.Add(2 * time.Hour)) {
		t.Fatalf("new firmware: %v", at)
	}
}

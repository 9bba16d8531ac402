// Package firmware is the box's side of firmware updates that the init
// (PID 1) shares with the daemon: which build runs (Info, written by the
// image builder), the update in flight on /perm (Pending, Confirmed), the
// rollback watchdog of a test boot (Watchdog), and the installers that
// write an update (Installer: gokrazy's update API, or a directory).
//
// The files, in the update directory (DefaultDir, 0700; each 0600,
// written to a temporary file, fsynced, renamed, the directory fsynced):
//
//   - pending.json: the update written to the inactive root and test-booted
//     next (Pending). The daemon writes it before it reboots into the new
//     firmware and removes it once the new firmware confirmed or the old
//     one reported the rollback.
//   - confirmed.json: {"serial":N,"confirmed_at":T}, written by the new
//     firmware's daemon once it switched to its root for good. The init's
//     watchdog reboots a test boot whose serial is not confirmed within
//     Pending.ConfirmWithin.
//   - root.part, boot.part, download.json: the download in progress
//     (appliance/update.go).
package firmware

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/spanvault/spanvault/internal/atomicfile"
	"github.com/spanvault/spanvault/sync/wire"
)

// Default paths on the image.
const (
	DefaultInfoPath = "/etc/spanvault/firmware.json"
	DefaultDir      = "/perm/spanvault/update"
)

// Files in the update directory.
const (
	PendingFile   = "pending.json"
	ConfirmedFile = "confirmed.json"
)

// DefaultConfirmWithin is the watchdog's time when an offer gave none.
const DefaultConfirmWithin = 15 * time.Minute

// Info is the firmware the box runs (/etc/spanvault/firmware.json, written
// by the image builder).
type Info struct {
	// Serial is the build's update serial (wire.UpdateManifest.Serial);
	// 0: not an update-built image.
	Serial  uint64 `json:"serial"`
	Version string `json:"version"`
	Arch    string `json:"arch"`
}

// ReadInfo reads the firmware identity. An absent file is serial 0 with
// version (the binary's own) and the running architecture.
func ReadInfo(path, version string) (Info, error) {
	in := Info{Version: version, Arch: runtime.GOARCH}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return in, nil
	}
	if err != nil {
		return in, fmt.Errorf("firmware: %w", err)
	}
	var f Info
	if err := decodeStrict(b, &f); err != nil {
		return in, fmt.Errorf("firmware: %s: %w", path, err)
	}
	if f.Version != "" {
		in.Version = f.Version
	}
	if f.Arch != "" {
		in.Arch = f.Arch
	}
	in.Serial = f.Serial
	return in, nil
}

func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}

// Pending is an update written to the inactive root partition, whose
// test boot is next (pending.json).
type Pending struct {
	Serial        uint64        `json:"serial"`
	Version       string        `json:"version"`
	Rollout       int64         `json:"rollout"`
	ConfirmWithin wire.Duration `json:"confirm_within"`
	WrittenAt     time.Time     `json:"written_at"`
	// FromSerial and FromVersion are the firmware that wrote it (the one
	// a rollback returns to).
	FromSerial  uint64 `json:"from_serial"`
	FromVersion string `json:"from_version,omitempty"`
	// CaptureStopped is when the old firmware stopped capturing to
	// reboot: the capture gap runs from it to the next capture's start.
	CaptureStopped time.Time `json:"capture_stopped,omitzero"`
}

// Within is ConfirmWithin within wire.MinConfirmWithin..MaxConfirmWithin,
// or DefaultConfirmWithin when unset.
func (p *Pending) Within() time.Duration {
	if p.ConfirmWithin <= 0 {
		return DefaultConfirmWithin
	}
	return wire.ClampConfirmWithin(time.Duration(p.ConfirmWithin))
}

// ReadPending returns the pending update in dir, nil if none.
func ReadPending(dir string) (*Pending, error) {
	b, err := os.ReadFile(filepath.Join(dir, PendingFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("firmware: %w", err)
	}
	var p Pending
	if err := decodeStrict(b, &p); err != nil {
		return nil, fmt.Errorf("firmware: %s: %w", PendingFile, err)
	}
	return &p, nil
}

// WritePending writes pending.json durably.
func WritePending(dir string, p Pending) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return WriteFileSync(filepath.Join(dir, PendingFile), b)
}

// ClearPending removes pending.json (durably).
func ClearPending(dir string) error {
	if err := os.Remove(filepath.Join(dir, PendingFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("firmware: %w", err)
	}
	return syncDir(dir)
}

type confirmed struct {
	Serial      uint64    `json:"serial"`
	ConfirmedAt time.Time `json:"confirmed_at"`
}

// WriteConfirmed marks serial as confirmed (confirmed.json).
func WriteConfirmed(dir string, serial uint64, at time.Time) error {
	b, err := json.Marshal(confirmed{Serial: serial, ConfirmedAt: at.UTC()})
	if err != nil {
		return err
	}
	return WriteFileSync(filepath.Join(dir, ConfirmedFile), b)
}

// Confirmed returns the serial confirmed last, if any.
func Confirmed(dir string) (uint64, bool) {
	b, err := os.ReadFile(filepath.Join(dir, ConfirmedFile))
	if err != nil {
		return 0, false
	}
	var c confirmed
	if decodeStrict(b, &c) != nil || c.Serial == 0 {
		return 0, false
	}
	return c.Serial, true
}

// WriteFileSync writes path (0600) through a temporary file, fsynced and
// renamed, and fsyncs the directory (made 0700 if missing): the file is
// whole after a power cut at any moment.
func WriteFileSync(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("firmware: %w", err)
	}
	if err := atomicfile.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("firmware: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("firmware: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("firmware: %w", err)
	}
	return nil
}

// TestBootFlag is what gokrazy's /update/testboot adds to the kernel
// command line: the boot runs the inactive root once.
const TestBootFlag = "gokrazy.try_boot_inactive=1"

// IsTestBoot reports whether a kernel command line (/proc/cmdline) is
// gokrazy's test boot of the inactive root.
func IsTestBoot(cmdline string) bool {
	for _, f := range strings.Fields(cmdline) {
		if f == TestBootFlag {
			return true
		}
	}
	return false
}

// ErrNotArmed: the watchdog has nothing to watch (not a test boot, or no
// pending update of this firmware, or one confirmed already).
var ErrNotArmed = errors.New("firmware: watchdog not armed")

// Watchdog is the init's rollback guard. In a test boot of the firmware
// a pending update names, it waits ConfirmWithin; if the daemon has not
// confirmed that serial by then, it reboots, which boots the old root
// (gokrazy rewrote the test-boot flag at this boot).
type Watchdog struct {
	Dir     string // the update directory (DefaultDir)
	Serial  uint64 // the firmware running (Info.Serial)
	Cmdline string // the kernel command line (/proc/cmdline)
	// After is time.After (tests fire it at will).
	After func(time.Duration) <-chan time.Time
	// Reboot reboots the box (the init: gokrazy's /reboot, falling back
	// to sync and reboot(2)).
	Reboot func() error
	Logf   func(format string, args ...any)
}

// Run arms the watchdog if there is something to watch and returns when
// it rebooted, found the firmware confirmed, or ctx ended. It returns
// ErrNotArmed at once when there is nothing to watch.
func (w *Watchdog) Run(ctx context.Context) error {
	logf := w.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if !IsTestBoot(w.Cmdline) {
		return ErrNotArmed
	}
	p, err := ReadPending(w.Dir)
	if err != nil {
		// A test boot with an unreadable state: nothing says the new
		// firmware is good. Rebooting returns to the old one.
		logf("rollback watchdog: %v: rebooting into the previous firmware", err)
		return w.Reboot()
	}
	if p == nil || p.Serial != w.Serial {
		return ErrNotArmed
	}
	if s, ok := Confirmed(w.Dir); ok && s == w.Serial {
		return ErrNotArmed
	}
	d := p.Within()
	logf("rollback watchdog: firmware %d (%s) is on trial; it reboots into firmware %d unless confirmed within %v", p.Serial, p.Version, p.FromSerial, d)
	after := w.After
	if after == nil {
		after = time.After
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-after(d):
	}
	if s, ok := Confirmed(w.Dir); ok && s == w.Serial {
		logf("rollback watchdog: firmware %d confirmed", w.Serial)
		return nil
	}
	logf("rollback watchdog: firmware %d not confirmed within %v: rebooting into firmware %d", w.Serial, d, p.FromSerial)
	return w.Reboot()
}

// BootedFile records when the box first booted the firmware it runs.
const BootedFile = "booted.json"

// BootedInto returns when the box booted into firmware serial: the time
// kept in booted.json when it names serial, else bootTime, which it then
// keeps (a reboot into the same firmware keeps the first time).
func BootedInto(dir string, serial uint64, bootTime time.Time) (time.Time, error) {
	var b struct {
		Serial uint64    `json:"serial"`
		At     time.Time `json:"at"`
	}
	if data, err := os.ReadFile(filepath.Join(dir, BootedFile)); err == nil && decodeStrict(data, &b) == nil && b.Serial == serial && !b.At.IsZero() {
		return b.At, nil
	}
	b.Serial, b.At = serial, bootTime.UTC()
	data, err := json.Marshal(b)
	if err != nil {
		return bootTime, err
	}
	return bootTime, WriteFileSync(filepath.Join(dir, BootedFile), data)
}

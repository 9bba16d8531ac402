package appliance

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/spanvault/spanvault/appliance/firmware"
	"github.com/spanvault/spanvault/sync/client"
	"github.com/spanvault/spanvault/sync/wire"
)

// The daemon's side of firmware updates (update.go): the updater made at
// start, its hooks in the sync loop, and the reboot at the end of Run.

// FirmwareStatus is what the status page shows of the firmware.
type FirmwareStatus struct {
	Serial   uint64    `json:"serial"`
	Version  string    `json:"version"`
	Arch     string    `json:"arch"`
	BootedAt time.Time `json:"booted_at,omitzero"`
	// The update state (wire.Update* states) and the serial it is about.
	UpdateState   string `json:"update_state,omitempty"`
	UpdateSerial  uint64 `json:"update_serial,omitempty"`
	UpdateFailure string `json:"update_failure,omitempty"`
}

// newUpdater sets up firmware updates from the [update] section. A box
// whose firmware identity or update directory is unusable records all
// the same, without updates (logged).
func (a *Appliance) newUpdater() {
	if err := a.setupUpdater(); err != nil {
		a.log.Error("firmware updates disabled", "err", err)
	}
}

func (a *Appliance) setupUpdater() error {
	uc := a.cfg.Update
	fw, err := firmware.ReadInfo(uc.Firmware, Version)
	if err != nil {
		return err
	}
	var inst firmware.Installer
	switch uc.Installer {
	case "dir":
		inst = &firmware.Dir{Path: uc.InstallerDir}
	default:
		inst = &firmware.Gokrazy{Addr: uc.Gokrazy, PasswordFile: uc.GokrazyPassword}
	}
	u := &updater{dir: uc.Dir, fw: fw, inst: inst, log: a.log, now: time.Now, space: a.updateSpace,
		audit: func(action, detail string) error { return a.v.Audit(action, "appliance", "", detail) }}
	if err := os.MkdirAll(uc.Dir, 0o700); err != nil {
		return fmt.Errorf("update.dir: %w", err)
	}
	booted, err := firmware.BootedInto(uc.Dir, fw.Serial, bootTime(a.start))
	if err != nil {
		a.log.Warn("update.dir: boot time not kept", "err", err)
	}
	u.bootedAt = booted
	u.testBoot = kernelTestBoot()
	a.upd = u
	a.rebootc = make(chan struct{})
	a.log.Info("firmware", "serial", fw.Serial, "version", fw.Version, "arch", fw.Arch)
	return nil
}

// bootTime is the kernel's boot time (/proc/stat btime), else fallback.
func bootTime(fallback time.Time) time.Time {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return fallback
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "btime "); ok {
			if s, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
				return time.Unix(s, 0)
			}
		}
	}
	return fallback
}

// updateClientConfig adds firmware updates to the sync client's
// configuration.
func (a *Appliance) updateClientConfig(cc *client.Config) {
	if a.upd == nil {
		return
	}
	cc.UpdateKey = a.cfg.Sync.UpdateKey
	cc.Firmware = client.Firmware{Serial: a.upd.fw.Serial, Arch: a.upd.fw.Arch}
	cc.OnUpdate = a.upd.onOffer
}

// updateAtStart reads the update state once capture runs (the end of a
// reboot's capture gap) and a sync client exists.
func (a *Appliance) updateAtStart() {
	a.mu.Lock()
	s, _ := a.sync.(*syncer)
	a.mu.Unlock()
	if a.upd == nil || s == nil || !a.upd.startOnce() {
		return
	}
	if err := a.upd.atStart(s.c); err != nil {
		a.log.Error("firmware update state", "err", err)
	}
	a.upd.mu.Lock()
	a.upd.ready = true
	a.upd.mu.Unlock()
}

// updateAfterPass runs after each sync pass: it confirms a firmware on
// trial, and inside the window downloads and installs an update offered,
// asking Run to reboot into it.
func (a *Appliance) updateAfterPass(ctx context.Context, c *client.Client, upload bool, passErr error) {
	if a.upd == nil {
		return
	}
	if passErr == nil {
		ok, err := a.upd.afterPass(ctx, c, a.recordingWorks())
		if err != nil {
			a.log.Error("firmware confirmation", "err", err)
		}
		if ok { // say so now rather than at the next check-in
			if err := c.Pass(ctx, client.Options{HealthNow: a.health}); err != nil && ctx.Err() == nil {
				a.log.Warn("sync", "err", err)
			}
			if a.upd.leaveTestBoot("confirmed in gokrazy's test boot, whose command line names the previous root") {
				close(a.rebootc)
				return
			}
		}
	}
	if !upload || passErr != nil {
		return
	}
	reboot, err := a.upd.step(ctx, c, func() bool { return ctx.Err() == nil && InWindow(a.syncWindow(), time.Now()) })
	if err != nil && ctx.Err() == nil {
		a.log.Warn("firmware update", "err", err)
	}
	if reboot {
		// Report "written" before the reboot.
		if err := c.Pass(ctx, client.Options{HealthNow: a.health}); err != nil && ctx.Err() == nil {
			a.log.Warn("sync", "err", err)
		}
		close(a.rebootc)
	}
}

// recordingWorks: capture runs, no recording error lately, the audit
// chain verifies and the disk takes recordings. (A quiet mirror port is
// not a failure: updates run at night.)
func (a *Appliance) recordingWorks() bool {
	st := a.Status()
	a.upd.mu.Lock()
	capturing := !a.upd.captureStarted.IsZero()
	a.upd.mu.Unlock()
	return capturing && !st.Calls.Failing && st.Audit.OK && !st.Disk.Refusing
}

// updateSpace refuses a download of need bytes that would leave less
// than vault.min_free free, or (without a quota) fill the file system
// above vault.high_water, where the vault evicts recordings.
func (a *Appliance) updateSpace(need int64) error {
	var st unix.Statfs_t
	if err := unix.Statfs(a.cfg.Update.Dir, &st); err != nil {
		return fmt.Errorf("update: free space of %s: %w", a.cfg.Update.Dir, err)
	}
	free, size := int64(st.Bavail)*int64(st.Bsize), int64(st.Blocks)*int64(st.Bsize)
	minFree := int64(a.cfg.Vault.MinFree)
	if free-need < minFree {
		return fmt.Errorf("update: %d bytes to download, %d free, of which vault.min_free %d is kept (recordings are never evicted for an update)", need, free, minFree)
	}
	if a.cfg.Vault.Quota == 0 && size > 0 && float64(size-free+need)/float64(size) >= a.cfg.Vault.HighWater {
		return fmt.Errorf("update: %d bytes to download would fill the disk above vault.high_water %.2f, where recordings are evicted", need, a.cfg.Vault.HighWater)
	}
	return nil
}

// rebootRequested is closed when an update is written.
func (a *Appliance) rebootRequested() <-chan struct{} {
	if a.rebootc == nil {
		return nil
	}
	return a.rebootc
}

// rebootIntoUpdate runs at the end of Run after capture stopped and the
// calls in progress were sealed: it notes the time and asks the
// installer to reboot, then waits for the stop signal (gokrazy stops
// every service before it reboots).
func (a *Appliance) rebootIntoUpdate(ctx context.Context, captureStopped time.Time) error {
	if a.upd == nil {
		return nil
	}
	p := a.upd.rebooting()
	if p == nil && a.upd.leavingTestBoot() == "" {
		return nil
	}
	if p == nil {
		if err := a.upd.auditLeave(captureStopped); err != nil {
			a.log.Error("firmware: auditing the reboot out of the test boot", "err", err)
		}
	} else if err := a.upd.beforeReboot(captureStopped); err != nil {
		a.log.Error("firmware update: noting the capture stop", "err", err)
	}
	rctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	err := a.upd.inst.Reboot(rctx)
	cancel()
	if err != nil {
		return fmt.Errorf("firmware update: reboot: %w", err)
	}
	if p == nil {
		a.log.Info("rebooting out of the test boot", "serial", a.upd.fw.Serial)
	} else {
		a.log.Info("rebooting into the firmware update", "serial", p.Serial)
	}
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Minute):
		return errors.New("firmware update: the reboot did not happen")
	}
	return nil
}

// firmwareStatus is the status page's firmware section.
func (a *Appliance) firmwareStatus() *FirmwareStatus {
	if a.upd == nil {
		return nil
	}
	fs := &FirmwareStatus{Serial: a.upd.fw.Serial, Version: a.upd.fw.Version, Arch: a.upd.fw.Arch, BootedAt: a.upd.bootedAt}
	if s, ok := a.sync.(*syncer); ok { // a.mu held by refresh
		r := s.c.UpdateReport()
		fs.UpdateState, fs.UpdateSerial, fs.UpdateFailure = r.State, r.Serial, r.Failure
	}
	return fs
}

// firmwareHealth adds the firmware to a check-in's health.
func (a *Appliance) firmwareHealth(h *wire.Health) {
	if a.upd == nil {
		return
	}
	h.FirmwareSerial, h.BootedAt = a.upd.fw.Serial, a.upd.bootedAt
}

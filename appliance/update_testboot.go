package appliance

import (
	"fmt"
	"os"
	"time"

	"github.com/spanvault/spanvault/appliance/firmware"
)

// Leaving gokrazy's test boot. In a test boot the firmware runs the new
// root, but the kernel's command line still names the old one (the boot
// loader passed it, only flagged), and gokrazy takes its update targets
// from that command line: its "inactive" root is the one running. An
// update written from a test boot would overwrite the running root, and
// the boot after it would return to the firmware before the one
// confirmed (image TestVMRebootABSwitch shows gokrazy's view; image
// TestVMUpdateAndRollback the update that rolled back to the wrong
// firmware). So a box confirms a test boot and then reboots once more,
// into a boot whose command line names the root it runs; and it never
// writes an update from a test boot (should the daemon have stopped
// between the confirmation and that reboot, it reboots first).

// kernelTestBoot reports whether this boot is gokrazy's test boot.
func kernelTestBoot() bool {
	b, err := os.ReadFile("/proc/cmdline")
	return err == nil && firmware.IsTestBoot(string(b))
}

// leaveTestBoot asks for the reboot out of a test boot (why is audited
// when it happens). It reports whether it asked now.
func (u *updater) leaveTestBoot(why string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.testBoot || u.leaving != "" || u.rebootPending != nil {
		return false
	}
	u.leaving = why
	return true
}

// leavingTestBoot returns why the box reboots out of its test boot, ""
// if it does not.
func (u *updater) leavingTestBoot() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.leaving
}

// auditLeave audits the reboot out of the test boot with the time
// capture stopped (the capture gap's start).
func (u *updater) auditLeave(stopped time.Time) error {
	why := u.leavingTestBoot()
	return u.audit("firmware_reboot", fmt.Sprintf("rebooting out of the test boot of firmware %d (%s): %s; capture stopped at %s",
		u.fw.Serial, u.fw.Version, why, stopped.UTC().Format(time.RFC3339Nano)))
}

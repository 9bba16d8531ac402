package main

import (
	"context"
	"log"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/spanvault/spanvault/appliance/firmware"
)

// rollbackWatchdog arms firmware.Watchdog for this boot: in a test boot
// of the firmware pending.json names, a reboot unless the daemon confirms
// it in time.
func rollbackWatchdog() {
	cmdline, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		log.Printf("rollback watchdog: %v", err)
		return
	}
	info, err := firmware.ReadInfo(firmware.DefaultInfoPath, buildTimestamp)
	if err != nil {
		log.Printf("rollback watchdog: %v", err)
	}
	w := &firmware.Watchdog{
		Dir: firmware.DefaultDir, Serial: info.Serial, Cmdline: string(cmdline),
		Reboot: reboot, Logf: log.Printf,
	}
	if err := w.Run(context.Background()); err != nil && err != firmware.ErrNotArmed {
		log.Printf("rollback watchdog: %v", err)
	}
}

// reboot asks gokrazy to stop the services gracefully (the recorder
// seals its calls) and reboot; if that fails, it syncs and reboots at
// once.
func reboot() error {
	g := &firmware.Gokrazy{Timeout: 3 * time.Minute}
	err := g.Reboot(context.Background())
	if err == nil {
		time.Sleep(5 * time.Minute) // gokrazy reboots; should it not, fall through
		log.Printf("rollback watchdog: gokrazy did not reboot")
	} else {
		log.Printf("rollback watchdog: gokrazy reboot: %v", err)
	}
	unix.Sync()
	return unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART)
}

// Command init is PID 1 of the spanvault gokrazy image: it boots the
// system with gokrazy (mounts, hostname, /perm) and supervises gokrazy's
// network services and the recorder. The recorder's flags and environment
// come from /etc/spanvault/init.json, written by the image builder from
// the instance configuration's PackageConfig.
//
// In gokrazy's test boot of a firmware update it also runs the rollback
// watchdog (appliance/firmware.Watchdog): a new firmware whose daemon has
// not confirmed it within the update's time is rebooted, which boots the
// previous root again.
package main

import (
	"encoding/json"
	"fmt"
	"log"
	"os"
	"os/exec"

	"github.com/gokrazy/gokrazy"
)

// buildTimestamp is set by the image builder (-ldflags -X).
var buildTimestamp = "unknown"

// service is one supervised program, as the image builder describes it.
type service struct {
	Path         string   `json:"path"`
	Flags        []string `json:"flags"`
	Environment  []string `json:"environment"`
	WaitForClock bool     `json:"wait_for_clock"`
}

func main() {
	log.SetFlags(log.LstdFlags | log.Lshortfile)
	fmt.Printf("spanvault init, build %s\n", buildTimestamp)
	if err := gokrazy.Boot(buildTimestamp); err != nil {
		log.Fatal(err)
	}
	var svcs []*gokrazy.Service
	for _, p := range []string{"/gokrazy/dhcp", "/gokrazy/ntp", "/gokrazy/randomd"} {
		if _, err := os.Stat(p); err == nil {
			svcs = append(svcs, gokrazy.NewService(exec.Command(p)))
		}
	}
	var user []service
	b, err := os.ReadFile("/etc/spanvault/init.json")
	if err != nil {
		log.Printf("no /etc/spanvault/init.json: %v", err)
	} else if err := json.Unmarshal(b, &user); err != nil {
		log.Printf("/etc/spanvault/init.json: %v", err)
	}
	for _, s := range user {
		cmd := exec.Command(s.Path, s.Flags...)
		cmd.Env = append(os.Environ(), s.Environment...)
		// The recorder must start without waiting for the clock: a box
		// that boots without uplink must still record (and flag it).
		if s.WaitForClock {
			svcs = append(svcs, gokrazy.NewWaitForClockService(cmd))
		} else {
			svcs = append(svcs, gokrazy.NewService(cmd))
		}
	}
	if err := gokrazy.SuperviseServices(svcs); err != nil {
		log.Fatal(err)
	}
	go rollbackWatchdog()
	select {}
}

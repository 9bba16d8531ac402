package image

import (
	"bytes"
	"strings"
)

// FirmwareFile is where the root file system says which build it is: the
// JSON of a Firmware. The box reports it at check-in and installs only an
// update of a higher serial.
const FirmwareFile = "etc/spanvault/firmware.json"

// Firmware names a build.
type Firmware struct {
	Serial  uint64 `json:"serial"`
	Version string `json:"version"`
	Arch    string `json:"arch"`
}

// cmdlineSize is the recorded size of the boot partition's cmdline.txt.
//
// gokrazy edits that file in place and cannot grow it: its test boot
// (POST /update/testboot) replaces the newline with
// " gokrazy.try_boot_inactive=1\n" and writes the result over the file's
// extent, the boot after rewrites that flag to gokrazy.switch_on_boot=1,
// and /update/switch and /update/bootonly change root=PARTUUID=...-02 to
// -03 (same length). Whatever runs past the recorded size is lost to the
// file (it lands in the cluster's slack), so the command line is one line
// followed by spaces up to cmdlineSize: a test boot shifts the spaces out
// and the flag stays inside the file. Every update writes a fresh boot
// partition first, so the room is needed for one test boot; 512 bytes
// leave room for a dozen. The Pi firmware reads the first line only (and
// the qemu harness passes only the first line, as the firmware does).
const cmdlineSize = 512

// padCmdline pads a one-line command line ending in a newline to
// cmdlineSize with spaces after the newline (a longer one is left as is).
func padCmdline(line string) []byte {
	b := []byte(line)
	if n := cmdlineSize - len(b); n > 0 {
		b = append(b, bytes.Repeat([]byte{' '}, n)...)
	}
	return b
}

// KernelCmdline is what a boot loader passes to the kernel from the
// contents of cmdline.txt: its first line.
func KernelCmdline(cmdlineTxt []byte) string {
	line, _, _ := strings.Cut(string(cmdlineTxt), "\n")
	return strings.TrimSpace(line)
}

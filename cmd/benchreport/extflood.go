package main

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
)

// extFloodArgs are make flood's second run: the flood aimed at a
// configured extension (To: 2999, capture.extensions 2xxx), issue 21.
var extFloodArgs = []string{"-bin", "build/spanvault", "-levels", "40", "-hold", "8s", "-flood-rates", "5000,10000,20000", "-flood-to", "2999"}

var indexLine = regexp.MustCompile(`index growth per flood INVITE .*: ([0-9.]+) bytes`)

// floodReady builds build/spanvault for make flood's measurement and
// returns "", or why the measurement cannot run here: it needs root (a
// network namespace, packet sockets), sipp and dumpcap.
func floodReady() string {
	if os.Geteuid() != 0 {
		return "not measured: needs root (network namespace, packet sockets)"
	}
	for _, tool := range []string{"sipp", "dumpcap"} {
		if _, err := exec.LookPath(tool); err != nil {
			return "not measured: " + tool + " is not installed (scripts/install-deps.sh)"
		}
	}
	if out, err := exec.Command("go", "build", "-o", "build/spanvault", "./cmd/spanvault").CombinedOutput(); err != nil {
		return fmt.Sprintf("not measured: build: %v %s", err, out)
	}
	return ""
}

// liveExtFlood runs loadtest with the flood aimed at an extension and
// returns the highest rate beside which 40 calls lost nothing and the
// index bytes per flood INVITE.
func liveExtFlood() string {
	if why := floodReady(); why != "" {
		return why
	}
	out, err := exec.Command("go", append([]string{"run", "./cmd/loadtest"}, extFloodArgs...)...).Output()
	m, ix := floodLine.FindSubmatch(out), indexLine.FindSubmatch(out)
	if err != nil || m == nil || ix == nil {
		return fmt.Sprintf("not measured: loadtest: %v", err)
	}
	table := ""
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "| ") && !strings.HasPrefix(l, "| INVITE") {
			f := strings.Split(l, "|")
			table += fmt.Sprintf("; %s/s asked, %s/s sent: %s calls short, peak RSS %s", strings.TrimSpace(f[1]), strings.TrimSpace(f[2]), strings.TrimSpace(f[10]), strings.TrimSpace(f[12]))
		}
	}
	return fmt.Sprintf("%s/s; index %s bytes per flood INVITE%s", m[1], ix[1], table)
}

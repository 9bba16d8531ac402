package appliance_test

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/capture/ring/ringtest"
)

// Thousands of idle connections to the status port (a scanner, or an
// attacker on the branch LAN) neither silence recording nor lock the page
// for others: the daemon bounds its connections in all and per source,
// closing the excess at once, and keeps descriptors for recordings.
func TestIdleConnectionsDoNotSilenceRecording(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	ns := ringtest.NewNetns(t, "svidle")
	b := newBox(t, ns, "")
	b.start()

	const attack = 3000
	var conns []net.Conn
	ns.Do(t, func() {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 2 * time.Second}
		for i := 0; i < attack; i++ {
			c, err := d.Dial("tcp", "127.0.0.1:18080")
			if err != nil {
				continue
			}
			conns = append(conns, c)
		}
	})
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	if len(conns) < attack/2 {
		t.Fatalf("only %d attack connections made", len(conns))
	}

	// The page answers another source during the attack.
	st := b.status()
	if num(st, "capture", "status_conns_refused") < float64(len(conns)-256) {
		t.Fatalf("status page refused only %v of %d idle connections", num(st, "capture", "status_conns_refused"), len(conns))
	}

	placeCalls(t, ns, 3)
	waitFor(t, "three recordings", 30*time.Second, func() bool {
		return num(b.status(), "calls", "recorded_since_start") == 3
	})
	st = b.status()
	if num(st, "calls", "record_errors") != 0 || st["calls"].(map[string]any)["recording_failing"] != false {
		t.Fatalf("recording under the attack: errors %v, failing %v", num(st, "calls", "record_errors"), st["calls"])
	}
	// The page and the LED report the attack while recording goes on.
	atk, _ := st["attack"].(map[string]any)
	if st["healthy"] != false || st["led"] != "attack" || atk["seen"] != true || !strings.Contains(fmt.Sprint(atk["signs"]), "status page refused") {
		t.Fatalf("the attack is not reported: healthy %v, LED %v, attack %v", st["healthy"], st["led"], atk)
	}
	b.stop()
	v := openVault(t, b)
	es, _ := v.List()
	n := 0
	for _, e := range es {
		if e.Recorded && e.State == "complete" {
			n++
		}
	}
	if n != 3 {
		t.Fatalf("%d complete recordings, want 3", n)
	}
}

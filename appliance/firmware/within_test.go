package firmware_test

import (
	"testing"
	"time"

	"github.com/spanvault/spanvault/appliance/firmware"
	"github.com/spanvault/spanvault/sync/wire"
)

// TestPendingWithinBounded: the init's watchdog waits at most 24h and at
// least 1m whatever pending.json says (0: the default).
func TestPendingWithinBounded(t *testing.T) {
	for _, c := range []struct{ set, want time.Duration }{
		{0, firmware.DefaultConfirmWithin},
		{1000 * time.Hour, 24 * time.Hour},
		{time.Second, time.Minute},
		{30 * time.Minute, 30 * time.Minute},
	} {
		p := firmware.Pending{ConfirmWithin: wire.Duration(c.set)}
		if got := p.Within(); got != c.want {
			t.Errorf("pending confirm_within %s: the watchdog waits %s, want %s", c.set, got, c.want)
		}
	}
}

package client_test

import (
	"testing"
	"time"

	"github.com/spanvault/spanvault/sync/wire"
)

// TestUpdateConfirmWithinClamped: ConfirmWithin is outside the signed
// manifest; an archive that offers a trial of 1000h (a bad build never
// rolled back) or of 1ms (a good one rolled back at once) has the box
// clamp it to 1m..24h. (Old code: the daemon got what the archive sent.)
func TestUpdateConfirmWithinClamped(t *testing.T) {
	for _, c := range []struct{ sent, want time.Duration }{
		{1000 * time.Hour, 24 * time.Hour},
		{time.Millisecond, time.Minute},
		{20 * time.Minute, 20 * time.Minute},
	} {
		e := newEnv(t)
		b := e.updateBox(t, "")
		b.publish(t, 8, "arm64", []byte("root fs"), []byte("boot fs"))
		id := b.mustRoll(t, 8)
		o := b.offerOf(t, 8, id)
		o.ConfirmWithin = wire.Duration(c.sent)
		if _, err := b.c.HandleUpdate(o); err != nil {
			t.Fatal(err)
		}
		if len(b.offered) != 1 || b.offered[0].ConfirmWithin != c.want {
			t.Errorf("offer with confirm within %s: the daemon got %+v, want %s", c.sent, b.offered, c.want)
		}
	}
}

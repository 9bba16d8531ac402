package client_test

import (
	"context"
	"testing"
	"time"

	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/sync/client"
)

// TestAnchoringCheckpointAcrossFrontEnds: two front-ends share one index
// and both append to the anchor log; each keeps the last checkpoint it
// signed. A box that verified the newer head at the second front-end and
// then checks in at the first gets that head or a later one (never the
// first front-end's older one, which the box refuses as a log that
// shrank), with a consistency proof from the size it verified.
func TestAnchoringCheckpointAcrossFrontEnds(t *testing.T) {
	e := newEnv(t)
	e.record(synth.Config{Calls: 2, Duration: time.Second, Start: e.clock.Now().Add(-time.Hour)})
	b, ln := e.secondFrontEnd(t)
	ctx := context.Background()
	at := func(addr string) *client.Client {
		cfg := e.config()
		cfg.Archives = []string{addr}
		c, err := client.New(cfg, e.v)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	// The first front-end signs (and keeps) a head.
	c := at(e.addr)
	if err := e.pass(c); err != nil {
		t.Fatal(err)
	}
	first := c.State().TreeSize
	if first == 0 {
		t.Fatal("no checkpoint verified")
	}
	// The second appends to the log and the box verifies its new head.
	b.Event(ctx, "test", "test", "", "an entry of the trail", false)
	if err := b.AnchorTrail(ctx); err != nil {
		t.Fatal(err)
	}
	grown, err := b.Log.Size(ctx)
	if err != nil || grown <= first {
		t.Fatalf("the second front-end's log: %d records, %v; the box verified %d", grown, err, first)
	}
	c2 := at(ln.Addr().String())
	if err := e.pass(c2); err != nil {
		t.Fatal(err)
	}
	if got := c2.State().TreeSize; got < grown {
		t.Fatalf("the second front-end's head: %d, want at least %d", got, grown)
	}
	// Back at the first front-end: the box starts from the size it
	// verified (kept in its vault) and refuses a smaller head.
	c3 := at(e.addr)
	if err := e.pass(c3); err != nil {
		t.Fatalf("check-in at the first front-end after the second appended: %v", err)
	}
	if got := c3.State().TreeSize; got != 0 && got < grown { // 0: the head it had verified already
		t.Fatalf("the first front-end served a head of size %d, the log holds %d", got, grown)
	}
}

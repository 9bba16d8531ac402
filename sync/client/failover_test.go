package client_test

import (
	"testing"
	"time"

	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/sync/client"
)

// Two archive front-ends on one archive directory (one SQLite index, one
// store); the box lists both. The first dies mid-sync: the box fails over
// to the second, and every recording arrives exactly once.
func TestFailoverBetweenFrontEnds(t *testing.T) {
	e := newEnv(t)
	e.record(synth.Config{Calls: 6, Duration: 30 * time.Second, Start: e.clock.Now().Add(-time.Hour), Rejected: 2})
	b, ln := e.secondFrontEnd(t)

	cfg := e.config()
	cfg.Archives = []string{e.addr, ln.Addr().String()}
	cfg.Rate = 1 << 20
	c, err := client.New(cfg, e.v)
	if err != nil {
		t.Fatal(err)
	}
	// Stop the first front-end once the second recording is being sent.
	go func() {
		for c.State().UploadedBytes == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		e.stopArchive()
	}()
	var perr error
	for i := 0; i < 3; i++ {
		if perr = e.pass(c); perr == nil {
			break
		}
	}
	if perr != nil {
		t.Fatal(perr)
	}
	if got := c.State().Archive; got != ln.Addr().String() {
		t.Fatalf("box did not fail over: last archive %s", got)
	}
	e.arch = b
	e.checkAllArrived()
}

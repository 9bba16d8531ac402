package appliance

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/spanvault/spanvault/capture"
	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/decode"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/vault"
)

// TestStatusCountsClassicalOnly (issue 25): the status page and
// /api/status say how many recordings kept on the box are sealed to
// classical (X25519) recipients only; those sealed after the box's
// recipients became hybrid post-quantum ones are not counted.
func TestStatusCountsClassicalOnly(t *testing.T) {
	a := testAppliance(t, "")
	record := func(seed uint64) {
		tr := calls.NewTracker(calls.Config{}, a.v, a.v)
		p := capture.NewPipeline(decode.New(decode.DefaultOptions), tr)
		synth.New(synth.Config{Calls: 2, Concurrent: 2, Duration: time.Second, Start: time.Now().Add(-time.Hour), Seed: seed}).
			Each(func(f synth.Frame) { p.Handle(f.Data, decode.LinkEthernet, f.Time) })
		p.Close("capture ended")
	}
	status := func() Status {
		a.mu.Lock()
		a.idx.at = time.Time{} // walk the index again now
		a.mu.Unlock()
		a.refresh()
		return a.Status()
	}
	record(1)
	st := status()
	classical := st.Disk.Recordings
	if classical == 0 || st.Disk.ClassicalOnly != classical {
		t.Fatalf("X25519 box: %d recordings, %d classical-only", st.Disk.Recordings, st.Disk.ClassicalOnly)
	}
	// The box's recipients become hybrid.
	dir := a.v.Dir()
	a.v.Close()
	id, _ := age.GenerateHybridIdentity()
	var err error
	if a.v, err = vault.Open(vault.Options{Dir: dir, Recipients: []age.Recipient{id.Recipient()}, Alert: a.alert}); err != nil {
		t.Fatal(err)
	}
	record(2)
	st = status()
	if st.Disk.Recordings <= classical || st.Disk.ClassicalOnly != classical {
		t.Fatalf("after the switch: %d recordings, %d classical-only, want %d", st.Disk.Recordings, st.Disk.ClassicalOnly, classical)
	}
	w := httptest.NewRecorder()
	a.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if !strings.Contains(w.Body.String(), fmt.Sprintf(`id="classical-only">%d<`, classical)) {
		t.Fatalf("status page does not show %d classical-only recordings", classical)
	}
}

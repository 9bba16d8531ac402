package wire_test

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/spanvault/spanvault/sync/wire"
)

// TestFrozenHealth: a check-in carrying the health fields added after
// version 1's first boxes (clock offset, after-pass backlog, update and
// policy failures; testdata/v1/checkin_health.json, written once) decodes
// strictly with every field where it was, and re-encodes to the same
// message (a renamed field fails here).
func TestFrozenHealth(t *testing.T) {
	b, err := os.ReadFile("testdata/v1/checkin_health.json")
	if err != nil {
		t.Fatal(err)
	}
	var m wire.CheckIn
	if err := wire.Decode(bytes.NewReader(b), &m); err != nil {
		t.Fatalf("a check-in with the health fields no longer decodes: %v", err)
	}
	h := m.Health
	if h.Backlog != 5 || h.BacklogBytes != 1782579 || !h.AfterPass || h.ClockSynced || h.ClockOffset != -412.5 || h.UpdateFailure != "" || h.PolicyFailure == "" {
		t.Fatalf("decoded health %+v", h)
	}
	again, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var x, y any
	json.Unmarshal(b, &x)
	json.Unmarshal(again, &y)
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	if !bytes.Equal(xb, yb) {
		t.Fatalf("re-encoded check-in differs:\n%s\n%s", xb, yb)
	}
	// An older box's check-in (no such fields) reads as zero.
	var old wire.CheckIn
	f, _ := os.Open("testdata/v1/checkin.json")
	defer f.Close()
	if err := wire.Decode(f, &old); err != nil || old.Health.AfterPass || old.Health.ClockOffset != 0 {
		t.Fatalf("version 1 check-in: %v %+v", err, old.Health)
	}
}

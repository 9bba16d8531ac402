package wire_test

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/spanvault/spanvault/record/ledger"
	"github.com/spanvault/spanvault/sync/wire"
)

// TestFrozenLedger: a coverage ledger as a box of 2026-12-06 sent it
// (testdata/v1/ledger_upload.json, written once, never regenerated)
// still decodes strictly, its signature still verifies over the bytes
// as sent, and its hash and anchor record are what they were.
func TestFrozenLedger(t *testing.T) {
	b, err := os.ReadFile("testdata/v1/ledger_upload.json")
	if err != nil {
		t.Fatal(err)
	}
	var m wire.LedgerUpload
	if err := wire.Decode(bytes.NewReader(b), &m); err != nil {
		t.Fatalf("a ledger of 2026-12-06 no longer decodes: %v", err)
	}
	if err := wire.ValidateLedger(&m); err != nil {
		t.Fatal(err)
	}
	l, err := m.Open(nil)
	if err != nil {
		t.Fatalf("a ledger of 2026-12-06 no longer verifies: %v", err)
	}
	if l.Appliance != "branch-1" || l.Day != "2026-12-05" || len(l.Items) != 4 || l.Lines[0].Seen != 4 || l.Lines[0].Erased != 1 {
		t.Fatalf("ledger read back as %+v", l)
	}
	if it := l.Find("06dqhj9bg0x7meh27z3kaes39s"); it == nil || it.Status != ledger.StatusIncomplete || it.Reason != "truncated" {
		t.Fatalf("item read back as %+v", it)
	}
	h := ledger.Hash(m.Ledger)
	if got, want := string(ledger.AnchorText(l.Appliance, l.Day, h)), "spanvault coverage ledger\nbranch-1\n2026-12-05\n"+h+"\n"; got != want {
		t.Fatalf("anchor text %q, want %q", got, want)
	}
	// Re-encoding the message (as the sync client's post does) keeps the
	// signed bytes.
	re, _ := json.Marshal(&m)
	var m2 wire.LedgerUpload
	if err := wire.Decode(bytes.NewReader(re), &m2); err != nil {
		t.Fatal(err)
	}
	if _, err := m2.Open(nil); err != nil {
		t.Fatalf("re-encoded: %v", err)
	}
}

// FuzzLedger: no ledger upload makes the decoder, the shape check or the
// signature check panic, and nothing but a correctly signed ledger opens.
func FuzzLedger(f *testing.F) {
	b, _ := os.ReadFile("testdata/v1/ledger_upload.json")
	f.Add(b)
	f.Add([]byte(`{"ledger":{},"key":"","signature":""}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m wire.LedgerUpload
		if wire.Decode(bytes.NewReader(b), &m) != nil || wire.ValidateLedger(&m) != nil {
			return
		}
		if l, err := m.Open(nil); err == nil {
			if err := l.Validate(); err != nil {
				t.Fatalf("opened an invalid ledger: %v", err)
			}
		}
	})
}

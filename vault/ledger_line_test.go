package vault_test

import (
	"testing"
	"time"

	"github.com/spanvault/spanvault/capture"
	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/decode"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/vault"
)

// TestLedgerCountsPerLine: the coverage ledger counts a day's dialogs
// per line, the extension pattern (capture.extensions) the branch's party
// matched, and an erased recording stays under its line through its
// tombstone.
func TestLedgerCountsPerLine(t *testing.T) {
	_, recips, _ := newKey(t)
	start := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	v, err := vault.Open(vault.Options{Dir: t.TempDir(), Recipients: recips, Policy: testPolicy(), Now: func() time.Time { return start.Add(30 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	g := synth.New(synth.Config{Calls: 3, Duration: 2 * time.Second, Start: start})
	tr := calls.NewTracker(calls.Config{Extensions: []string{"2xxxx"}}, v, v)
	p := capture.NewPipeline(decode.New(decode.DefaultOptions), tr)
	g.Each(func(f synth.Frame) { p.Handle(f.Data, decode.LinkEthernet, f.Time) })
	p.Close("capture ended")
	es, err := v.List()
	if err != nil || len(es) != 3 {
		t.Fatalf("%d entries (%v), want 3", len(es), err)
	}
	if err := v.Erase(es[0].ID, "Art. 17", "dpo"); err != nil {
		t.Fatal(err)
	}
	s, err := v.SealLedger("branch-1", "2026-12-05")
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.Open(v.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Lines) != 1 || l.Lines[0].Line != "2xxxx" || l.Lines[0].Seen != 3 || l.Lines[0].Erased != 1 {
		t.Fatalf("ledger lines %+v, want one line 2xxxx with 3 dialogs, 1 erased", l.Lines)
	}
}

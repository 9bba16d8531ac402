package ledger

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSignOpenCount(t *testing.T) {
	key := ed25519.NewKeyFromSeed(make([]byte, 32))
	l := &Ledger{Version: Version, Appliance: "branch-1", Day: "2026-12-05", Made: time.Date(2026, 12, 6, 0, 1, 0, 0, time.UTC), Items: []Item{
		{ID: "06a", Line: "sales", Answered: true, Recorded: true, SHA256: strings.Repeat("a", 64), Status: StatusComplete},
		{ID: "06b", Line: "sales", Answered: true, Recorded: true, SHA256: strings.Repeat("b", 64), Status: StatusIncomplete, Reason: "truncated"},
		{ID: "06c", Status: StatusNotRecorded, Reason: "call detail record only"},
		{ID: "06d", Line: "sales", Recorded: true, SHA256: strings.Repeat("d", 64), Status: StatusRemoved, Reason: "retention"},
	}}
	l.Count()
	if len(l.Lines) != 2 || l.Lines[0].Line != "sales" || l.Lines[0].Seen != 3 || l.Lines[0].Complete != 1 || l.Lines[0].Incomplete != 1 || l.Lines[0].Removed != 1 ||
		l.Lines[0].Reasons["incomplete: truncated"] != 1 || l.Lines[1].Line != "*" || l.Lines[1].Reasons["not_recorded: call detail record only"] != 1 {
		t.Fatalf("lines %+v", l.Lines)
	}
	s, err := Sign(l, key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Open(key.Public().(ed25519.PublicKey))
	if err != nil || got.Find("06b").Reason != "truncated" || got.Find("06x") != nil {
		t.Fatalf("open: %v %+v", err, got)
	}
	other, _, _ := ed25519.GenerateKey(nil)
	if _, err := s.Open(other); !errors.Is(err, ErrSignature) {
		t.Fatalf("another box's key: %v", err)
	}
	for i := range s.Ledger {
		c := *s
		c.Ledger = append([]byte(nil), s.Ledger...)
		c.Ledger[i] ^= 1
		if _, err := c.Open(nil); err == nil {
			t.Fatalf("byte %d of the ledger changed: opened", i)
		}
	}
	for _, bad := range []Ledger{
		{Version: 1, Appliance: "Branch 1", Day: "2026-12-05"},
		{Version: 1, Appliance: "b", Day: "5.12.2026"},
		{Version: 1, Appliance: "b", Day: "2026-12-05", Items: []Item{{ID: "06a", Status: StatusComplete}, {ID: "06a", Status: StatusComplete}}},
		{Version: 1, Appliance: "b", Day: "2026-12-05", Items: []Item{{ID: "06a", Status: "lost"}}},
		{Version: 1, Appliance: "b", Day: "2026-12-05", Items: []Item{{ID: "06a", SHA256: "xyz", Status: StatusComplete}}},
	} {
		if _, err := Sign(&bad, key); err == nil {
			t.Errorf("signed an invalid ledger %+v", bad)
		}
	}
}

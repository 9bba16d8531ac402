package vault_test

import (
	"testing"
	"time"

	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/internal/testkit"
	"github.com/spanvault/spanvault/vault"
)

// Each deletion leaves a tombstone of its kind: only Erase's are
// erasures; retention's and the quota's are removals. Tombstones written
// before kinds get theirs from the reason.
func TestTombstoneKinds(t *testing.T) {
	_, recips, _ := newKey(t)
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	clk := testkit.NewClock(start)
	v, err := vault.Open(vault.Options{Dir: t.TempDir(), Recipients: recips, Now: clk.Now, ClockSynced: clk.Synced, QuotaBytes: 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	recordSynth(t, v, synth.Config{Calls: 3, Duration: time.Second, Start: start})
	es, _ := v.List()
	if err := v.Erase(es[0].ID, "Art. 17", "dpo"); err != nil {
		t.Fatal(err)
	}
	clk.Set(start.Add(400 * 24 * time.Hour)) // past the default class's maximum age
	if _, err := v.Sweep(); err != nil {
		t.Fatal(err)
	}
	ts, err := v.Tombstones()
	if err != nil || len(ts) != 3 {
		t.Fatalf("%d tombstones: %v", len(ts), err)
	}
	for _, tb := range ts {
		want := vault.TombstoneRemoved
		if tb.ID == es[0].ID {
			want = vault.TombstoneErased
		}
		if tb.Kind != want || tb.KindOf() != want {
			t.Errorf("%s (%s): kind %q, want %q", tb.ID, tb.Reason, tb.Kind, want)
		}
	}
	for reason, want := range map[string]string{"erasure": vault.TombstoneErased, "erasure: Art. 17": vault.TombstoneErased,
		"max_age": vault.TombstoneRemoved, "quota_synced": vault.TombstoneRemoved, "file missing (found by fsck)": vault.TombstoneRemoved} {
		old := vault.Tombstone{Reason: reason}
		if got := old.KindOf(); got != want {
			t.Errorf("a tombstone from before kinds with reason %q: %q, want %q", reason, got, want)
		}
	}
}

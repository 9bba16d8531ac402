package vault_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/internal/testkit"
	"github.com/spanvault/spanvault/vault"
	"github.com/spanvault/spanvault/vault/retention"
)

// TestCompactAfterSweep: call records that retention deletes leave free
// pages; the sweep compacts the index into a new file and swaps it in,
// the file shrinks, every kept entry and the audit chain survive, and the
// vault goes on recording.
func TestCompactAfterSweep(t *testing.T) {
	_, recips, ids := newKey(t)
	start := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	clk := testkit.NewClock(start)
	day := 24 * time.Hour
	pol := &retention.Policy{DefaultClass: "default", Classes: []retention.Class{
		{Name: "default", Record: true, MaxAge: retention.Duration(10 * day)},
	}}
	dir := t.TempDir()
	v, err := vault.Open(vault.Options{Dir: dir, Recipients: recips, Policy: pol, Now: clk.Now, ClockSynced: clk.Synced, Floods: noFloodLimits})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	recordSynth(t, v, synth.Config{Calls: 2, Duration: time.Second, Start: start.Add(9 * day)})
	var cs []*calls.Call
	for i := range 6000 {
		cs = append(cs, &calls.Call{CallID: fmt.Sprintf("old-%d@test", i), From: "<sip:+4930111@x>", To: "<sip:2001@x>",
			State: calls.Rejected, Start: start.Add(time.Duration(i) * time.Second)})
	}
	if err := v.DetailMany(drafts(cs...)); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "vault.db")
	fi, _ := os.Stat(db)
	before := fi.Size()
	clk.Set(start.Add(11 * day)) // the records are due, the recordings not
	res, err := v.Sweep()
	if err != nil {
		t.Fatal(err)
	}
	if res.Deleted != 6000 {
		t.Fatalf("swept %d, want 6000", res.Deleted)
	}
	fi, _ = os.Stat(db)
	t.Logf("vault.db %d KiB -> %d KiB", before>>10, fi.Size()>>10)
	if fi.Size() >= before*3/4 {
		t.Fatalf("vault.db not compacted: %d -> %d bytes", before, fi.Size())
	}
	if _, err := os.Stat(db + ".precompact"); !os.IsNotExist(err) {
		t.Fatal("the old index was left beside the new one")
	}
	es, _ := v.List()
	if len(es) != 2 {
		t.Fatalf("%d entries after compaction, want the 2 recordings", len(es))
	}
	for _, e := range es {
		if _, err := v.Personal(e.ID, ids); err != nil {
			t.Fatalf("sealed metadata lost: %v", err)
		}
	}
	if _, err := v.VerifyAudit(); err != nil {
		t.Fatalf("audit chain after compaction: %v", err)
	}
	if tb, _ := v.Tombstones(); len(tb) != 6000 {
		t.Fatalf("%d tombstones", len(tb))
	}
	recordSynth(t, v, synth.Config{Calls: 1, Duration: time.Second, Start: clk.Now(), Seed: 9})
	if es, _ := v.List(); len(es) != 3 {
		t.Fatalf("recording after compaction: %d entries", len(es))
	}
}

// TestCallRecordsGiveWayToRecordings: a vault whose quota is taken by call
// records (the index counts against it) makes room for a recording by
// deleting call records, archived ones first, and compacting the index;
// the recording is not refused.
func TestCallRecordsGiveWayToRecordings(t *testing.T) {
	_, recips, _ := newKey(t)
	start := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	clk := testkit.NewClock(start)
	dir := t.TempDir()
	v, err := vault.Open(vault.Options{Dir: dir, Recipients: recips, Now: clk.Now, ClockSynced: clk.Synced, Floods: noFloodLimits})
	if err != nil {
		t.Fatal(err)
	}
	var cs []*calls.Call
	for i := range 3000 {
		cs = append(cs, &calls.Call{CallID: fmt.Sprintf("cdr-%d@test", i), From: "<sip:+4930111@x>", To: "<sip:2001@x>",
			State: calls.Rejected, Start: start.Add(time.Duration(i) * time.Second)})
	}
	if err := v.DetailMany(drafts(cs...)); err != nil {
		t.Fatal(err)
	}
	es, _ := v.List()
	// The first 1,000 were archived.
	var acked []string
	for _, e := range es[:1000] {
		acked = append(acked, e.ID)
	}
	if err := v.AcknowledgeMany(acked, start.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// Reopen with a quota the index alone fills to 95 %.
	quota := v.Usage().Index * 100 / 95
	v.Close()
	v, err = vault.Open(vault.Options{Dir: dir, Recipients: recips, Now: clk.Now, ClockSynced: clk.Synced, Floods: noFloodLimits,
		QuotaBytes: quota, HighWater: 0.9, LowWater: 0.85})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	u := v.Usage()
	t.Logf("before: %+v", u)
	if u.Fraction < 0.9 {
		t.Fatalf("the call records fill %.2f of the quota; the test needs them over the high watermark", u.Fraction)
	}
	clk.Set(start.Add(2 * time.Hour))
	recordSynth(t, v, synth.Config{Calls: 1, Duration: 2 * time.Second, Start: clk.Now(), Seed: 3})
	es, _ = v.List()
	recorded, left := 0, map[string]bool{}
	for _, e := range es {
		if e.Recorded {
			recorded++
		} else {
			left[e.ID] = true
		}
	}
	u = v.Usage()
	t.Logf("after: %+v, %d call records left", u, len(left))
	if recorded != 1 {
		t.Fatalf("%d recordings: the recording was refused", recorded)
	}
	if len(left) >= 3000 || len(left) == 0 {
		t.Fatalf("%d of 3,000 call records left: they should give way only as far as needed", len(left))
	}
	ackedLeft := 0
	for _, id := range acked {
		if left[id] {
			ackedLeft++
		}
	}
	if ackedLeft > 0 && len(left) < 3000-1000+ackedLeft {
		t.Fatalf("unarchived call records went while %d archived ones were kept", ackedLeft)
	}
	if u.Fraction >= 0.9 {
		t.Fatalf("still over the high watermark: %.2f", u.Fraction)
	}
}

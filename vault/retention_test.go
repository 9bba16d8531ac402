package vault_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spanvault/spanvault/capture"
	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/decode"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/internal/testkit"
	"github.com/spanvault/spanvault/vault"
	"github.com/spanvault/spanvault/vault/audit"
)

var day = 24 * time.Hour

// byClass maps recording IDs to their class.
func byClass(t *testing.T, v *vault.Vault) map[string][]*vault.Entry {
	t.Helper()
	es, err := v.List()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]*vault.Entry{}
	for _, e := range es {
		out[e.Class] = append(out[e.Class], e)
	}
	return out
}

func auditedDeletes(t *testing.T, v *vault.Vault) map[string]audit.Entry {
	t.Helper()
	es, err := v.AuditEntries(1, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]audit.Entry{}
	for _, e := range es {
		switch e.Action {
		case audit.RetentionDelete, audit.QuotaDelete, audit.Erasure:
			out[e.Recording] = e
		}
	}
	return out
}

func TestRetentionWithFakeClock(t *testing.T) {
	_, recips, _ := newKey(t)
	start := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	clk := testkit.NewClock(start)
	v, err := vault.Open(vault.Options{Dir: t.TempDir(), Recipients: recips, Policy: testPolicy(), Now: clk.Now, ClockSynced: clk.Synced})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	// Calls 0-9 mifid, 10-19 scratch, 20-29 internal (not recorded), 30-39 default.
	recordSynth(t, v, synth.Config{Calls: 40, Concurrent: 40, Duration: time.Second, Start: start})
	cl := byClass(t, v)
	for class, n := range map[string]int{"mifid": 10, "scratch": 10, "internal": 10, "default": 10} {
		if len(cl[class]) != n {
			t.Fatalf("class %s: %d entries, want %d", class, len(cl[class]), n)
		}
	}
	for _, e := range cl["internal"] {
		if e.Recorded || e.State != vault.StateCDR {
			t.Fatalf("internal class call %s was recorded", e.ID)
		}
	}
	def := cl["default"]
	acked, held := def[0], def[1]
	if err := v.Acknowledge(acked.ID, start.Add(day)); err != nil {
		t.Fatal(err)
	}
	hid, err := v.Hold(held.ID, "litigation 42", "dpo")
	if err != nil {
		t.Fatal(err)
	}

	sweep := func(at time.Time) vault.SweepResult {
		t.Helper()
		clk.Set(at)
		res, err := v.Sweep()
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	exists := func(id string) bool {
		_, err := v.Get(id)
		return err == nil
	}

	// Day 5: nothing due.
	if r := sweep(start.Add(5 * day)); r.Deleted != 0 {
		t.Fatalf("day 5: deleted %d", r.Deleted)
	}
	// Day 9: the acknowledged recording's 7-day grace has passed.
	if r := sweep(start.Add(9 * day)); r.Deleted != 1 || exists(acked.ID) {
		t.Fatalf("day 9: deleted %d, acked still there: %v", r.Deleted, exists(acked.ID))
	}
	// While the clock is not synchronised, nothing is deleted at all.
	clk.SetSynced(false)
	if r := sweep(start.Add(400 * day)); r.Deleted != 0 || r.Skipped == "" {
		t.Fatalf("unsynchronised clock: %+v", r)
	}
	clk.SetSynced(true)
	// Day 31: scratch (30 days) and internal call records go, never synced.
	sweep(start.Add(31 * day))
	for _, e := range append(cl["scratch"], cl["internal"]...) {
		if exists(e.ID) {
			t.Fatalf("day 31: %s (%s) not deleted", e.ID, e.Class)
		}
	}
	// Day 91: default class past 90 days goes, except the one on hold;
	// MiFID (7 years) stays.
	sweep(start.Add(91 * day))
	for _, e := range def[2:] {
		if exists(e.ID) {
			t.Fatalf("day 91: default %s kept", e.ID)
		}
	}
	if !exists(held.ID) {
		t.Fatal("recording on legal hold was deleted by retention")
	}
	for _, e := range cl["mifid"] {
		if !exists(e.ID) {
			t.Fatalf("mifid %s deleted before 7 years", e.ID)
		}
	}
	// A hold blocks erasure too.
	if err := v.Erase(held.ID, "subject asked", "dpo"); !errors.Is(err, vault.ErrOnHold) {
		t.Fatalf("erase under hold: %v", err)
	}
	if _, err := v.Release(hid, "case closed", "dpo"); err != nil {
		t.Fatal(err)
	}
	sweep(start.Add(92 * day))
	if exists(held.ID) {
		t.Fatal("released recording past its age not deleted")
	}
	// Seven years on, MiFID recordings (must_sync) the archive never
	// acknowledged are kept and counted overdue (finding M2: no
	// max_age deletes them before the archive holds them); once it
	// acknowledges them, they go.
	if r := sweep(start.Add(7*365*day + day)); r.Deleted != 0 || r.Overdue != len(cl["mifid"]) {
		t.Fatalf("7 years on, unsynced MiFID: %+v", r)
	}
	for _, e := range cl["mifid"] {
		if !exists(e.ID) {
			t.Fatalf("unsynced mifid %s deleted for age", e.ID)
		}
		if err := v.Acknowledge(e.ID, clk.Now()); err != nil {
			t.Fatal(err)
		}
	}
	sweep(start.Add(7*365*day + 2*day))
	for _, e := range cl["mifid"] {
		if exists(e.ID) {
			t.Fatalf("mifid %s kept past 7 years after the archive acknowledged it", e.ID)
		}
	}
	// Every deletion has its audit entry and its tombstone.
	del := auditedDeletes(t, v)
	ts, _ := v.Tombstones()
	if len(ts) != 40 {
		t.Fatalf("%d tombstones, want 40", len(ts))
	}
	for _, tomb := range ts {
		a, ok := del[tomb.ID]
		if !ok {
			t.Fatalf("deletion of %s not audited", tomb.ID)
		}
		if a.Action != audit.RetentionDelete {
			t.Fatalf("%s audited as %s", tomb.ID, a.Action)
		}
		if tomb.ID == acked.ID && !strings.Contains(tomb.Reason, "synced") {
			t.Fatalf("acked recording deleted for %q", tomb.Reason)
		}
	}
	if _, err := v.VerifyAudit(); err != nil {
		t.Fatal(err)
	}
}

func TestQuotaEvictionOrderAndRefusal(t *testing.T) {
	_, recips, _ := newKey(t)
	start := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	clk := testkit.NewClock(start)
	// Measure one call's size first.
	probe, err := vault.Open(vault.Options{Dir: t.TempDir(), Recipients: recips})
	if err != nil {
		t.Fatal(err)
	}
	recordSynth(t, probe, synth.Config{Calls: 1, Duration: 3 * time.Second, Start: start})
	es, _ := probe.List()
	size := es[0].Size
	probe.Close()
	// The index counts against the quota too: the dozen entries of this
	// test take about 64 KiB of bbolt's file (and its file system blocks).
	const indexRoom = 96 << 10

	var alerts []vault.Alert
	var amu sync.Mutex
	v, err := vault.Open(vault.Options{Dir: t.TempDir(), Recipients: recips, Policy: testPolicy(), Now: clk.Now, ClockSynced: clk.Synced,
		QuotaBytes: 5*size + indexRoom, HighWater: 0.9, LowWater: 0.5,
		Alert: func(a vault.Alert) { amu.Lock(); alerts = append(alerts, a); amu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	// Two default (must keep until synced), two scratch (evictable
	// unsynced), call index chosen by number rules.
	gen := func(first, n int, at time.Time) {
		// synth numbers calls from 0: generate first+n and skip the rest
		// by starting the numbering where we want it.
		cfg := synth.Config{Calls: first + n, Concurrent: 1, Duration: 3 * time.Second, Start: at}
		recordOnly(t, v, cfg, first)
	}
	gen(30, 2, start)                // default x2
	gen(10, 2, start.Add(time.Hour)) // scratch x2
	u := v.Usage()
	if u.Index == 0 || u.Index > indexRoom {
		t.Fatalf("index takes %d bytes on disk, the test allows %d", u.Index, indexRoom)
	}
	if u.Used-u.Index < 4*size-size/2 {
		t.Fatalf("used %d, expected about %d", u.Used, 4*size)
	}
	cl := byClass(t, v)
	// Acknowledge the second default recording: synced goes first.
	synced := cl["default"][1]
	if err := v.Acknowledge(synced.ID, start.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	// A fifth call pushes past the high watermark: eviction deletes the
	// synced one, then the oldest scratch, until below the low watermark.
	gen(31, 1, start.Add(3*time.Hour))
	del := auditedDeletes(t, v)
	first, ok := del[synced.ID]
	if !ok {
		t.Fatalf("synced recording not evicted; deleted: %v", del)
	}
	if len(del) != 3 {
		t.Fatalf("expected eviction of the synced and both scratch recordings (down to the low watermark), deleted %d", len(del))
	}
	for id, a := range del {
		if id != synced.ID && a.Seq < first.Seq {
			t.Fatalf("%s evicted before the synced recording", id)
		}
	}
	sc := cl["scratch"]
	if del[sc[0].ID].Seq > del[sc[1].ID].Seq {
		t.Fatal("newer scratch recording evicted before the older one")
	}
	for id, a := range del {
		if a.Action != audit.QuotaDelete {
			t.Fatalf("%s deleted by %s", id, a.Action)
		}
		if e := findIn(cl["default"], id); e != nil && e.ID != synced.ID {
			t.Fatalf("unsynced default recording %s evicted", id)
		}
	}
	// Fill up with default (not evictable) calls until refused.
	refusedBefore := countErrors(t, v)
	for i := 0; i < 8; i++ {
		gen(32+i, 1, start.Add(time.Duration(4+i)*time.Hour))
	}
	if !v.Refusing() {
		t.Fatal("vault over quota with nothing evictable is not refusing")
	}
	if countErrors(t, v) <= refusedBefore {
		t.Fatal("refusal not audited")
	}
	// Nothing unsynced of a must-keep class was deleted.
	for id := range auditedDeletes(t, v) {
		if e := findIn(cl["default"], id); e != nil && e.ID != synced.ID {
			t.Fatalf("default recording %s deleted under quota pressure", id)
		}
	}
	amu.Lock()
	gotAlert := false
	for _, a := range alerts {
		gotAlert = gotAlert || a.Kind == vault.AlertQuotaRefusal
	}
	amu.Unlock()
	if !gotAlert {
		t.Fatal("no quota refusal alert raised")
	}
	// Once the archive acknowledges, room can be made and recording resumes.
	es, _ = v.List()
	for _, e := range es {
		if e.Recorded {
			if err := v.Acknowledge(e.ID, start.Add(20*time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
	}
	gen(60, 1, start.Add(21*time.Hour))
	if v.Refusing() {
		t.Fatal("still refusing after recordings were acknowledged")
	}
}

// recordOnly records the calls of cfg whose index is at least first.
func recordOnly(t *testing.T, v *vault.Vault, cfg synth.Config, first int) {
	t.Helper()
	g := synth.New(cfg)
	tr := calls.NewTracker(calls.Config{}, v, v)
	p := capture.NewPipeline(decode.New(decode.DefaultOptions), tr)
	for {
		f, ok := g.Next()
		if !ok {
			break
		}
		if f.Call >= first {
			p.Handle(f.Data, decode.LinkEthernet, f.Time)
		}
	}
	p.Close("capture ended")
}

func findIn(es []*vault.Entry, id string) *vault.Entry {
	for _, e := range es {
		if e.ID == id {
			return e
		}
	}
	return nil
}

func countErrors(t *testing.T, v *vault.Vault) int {
	es, err := v.AuditEntries(1, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range es {
		if e.Action == audit.QuotaRefusal {
			n++
		}
	}
	return n
}

// TestUnsynchronisedClockFlagged: recordings made before the clock is
// synchronised say so, and retention deletes nothing meanwhile.
func TestUnsynchronisedClockFlagged(t *testing.T) {
	_, recips, _ := newKey(t)
	clk := testkit.NewClock(time.Unix(0, 0)) // a Pi booted without its uplink
	clk.SetSynced(false)
	v, err := vault.Open(vault.Options{Dir: t.TempDir(), Recipients: recips, Now: clk.Now, ClockSynced: clk.Synced})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	recordSynth(t, v, synth.Config{Calls: 2, Duration: time.Second, Start: time.Unix(100, 0)})
	es, _ := v.List()
	for _, e := range es {
		if !e.ClockUnsynced {
			t.Fatalf("%s not flagged as recorded on an unsynchronised clock", e.ID)
		}
	}
	clk.Set(time.Unix(0, 0).Add(1000 * day))
	if r, _ := v.Sweep(); r.Deleted != 0 || r.Skipped == "" {
		t.Fatalf("sweep on an unsynchronised clock: %+v", r)
	}
}

package vault_test

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/spanvault/spanvault/capture"
	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/decode"
	"github.com/spanvault/spanvault/capture/sip"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/internal/testkit"
	"github.com/spanvault/spanvault/vault"
	"github.com/spanvault/spanvault/vault/audit"
)

// A flood aimed at a real extension (To: 2999, inside the box's
// extensions) at 10,000 INVITEs a second into a 48 MB vault, around
// legitimate calls: a local party does not exempt the dialogs from
// aggregation once their rate is anomalous; the calls are recorded and
// the index stays small.
func TestFloodToExtensionAggregated(t *testing.T) {
	dir := t.TempDir()
	id, _ := age.GenerateX25519Identity()
	v, err := vault.Open(vault.Options{Dir: dir, Recipients: []age.Recipient{id.Recipient()}, AggregateFloods: true, QuotaBytes: 48 << 20})
	if err != nil {
		t.Fatal(err)
	}
	a := vault.NewAsync(v, 0)
	tr := calls.NewTracker(calls.Config{MaxCalls: 2000, Extensions: []string{"2xxx"}}, a, v)
	p := capture.NewPipeline(decode.New(decode.DefaultOptions), tr)
	play := func(start time.Time, seed uint64) {
		g := synth.New(synth.Config{Calls: 3, Duration: time.Second, Seed: seed, Start: start})
		g.Each(func(f synth.Frame) { p.Handle(f.Data, decode.LinkEthernet, f.Time) })
	}
	at := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	play(at, 1)
	src := netip.MustParseAddrPort("203.0.113.50:5060")
	dst := netip.MustParseAddrPort("10.2.0.1:5060")
	const flood = 20000
	var m sip.Message
	for i := 0; i < flood; i++ {
		if i == flood/2 {
			tr.Sweep(at)
			play(at, 2)
		}
		s := fmt.Sprintf("INVITE sip:2999@10.2.0.1 SIP/2.0\r\nCall-ID: ext-%d\r\nFrom: <sip:scanner@203.0.113.50>;tag=s\r\nTo: <sip:2999@10.2.0.1>\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n", i)
		if _, err := sip.Parse([]byte(s), false, &m); err != nil {
			t.Fatal(err)
		}
		at = at.Add(100 * time.Microsecond)
		tr.SIP(&m, at, src, dst, "udp", nil)
	}
	play(at.Add(time.Minute), 3)
	p.Close("capture ended")
	a.Close()
	es, _ := v.List()
	recorded, records := 0, 0
	for _, e := range es {
		if e.Recorded {
			recorded++
		} else {
			records++
		}
	}
	agg := v.FloodDialogs()
	v.Close()
	fi, _ := os.Stat(filepath.Join(dir, "vault.db"))
	t.Logf("%d INVITEs to extension 2999: %d aggregated, %d call records, %d shed, vault.db %d KiB", flood, agg, records, a.Shed.Load(), fi.Size()>>10)
	if recorded != 9 {
		t.Errorf("%d legitimate calls recorded, want 9", recorded)
	}
	if records > vault.DefaultFloodOverall || agg+uint64(records)+a.Shed.Load() < flood {
		t.Errorf("flood to a local extension: %d call records (at most %d allowed), %d aggregated", records, vault.DefaultFloodOverall, agg)
	}
	if fi.Size() > 4<<20 {
		t.Errorf("vault.db grew to %d KiB", fi.Size()>>10)
	}
}

// noFloodLimits: tests that fill an index with call records of
// unanswered dialogs at a flood's rate, to test something else.
var noFloodLimits = vault.FloodLimits{PerSource: 1 << 30, PerExtension: 1 << 30, Overall: 1 << 30}

// unansweredCall is an unanswered dialog from src to number, starting at.
func unansweredCall(i int, src netip.Addr, number string, at time.Time) *calls.Call {
	return &calls.Call{CallID: fmt.Sprintf("u-%d", i), From: "sip:x@" + src.String(), To: "sip:" + number + "@10.2.0.1",
		Direction: calls.Inbound, Caller: netip.AddrPortFrom(src, 5060), Callee: netip.MustParseAddrPort("10.2.0.1:5060"),
		Start: at, End: at.Add(time.Minute), State: calls.Unanswered}
}

// The accounting of unanswered dialogs: per source, per dialled number
// and overall, per minute, whatever their parties; a normal rate keeps
// every record.
func TestUnansweredAccounting(t *testing.T) {
	_, recips, _ := newKey(t)
	lim := vault.FloodLimits{PerSource: 10, PerExtension: 5, Overall: 40}
	open := func() *vault.Vault {
		v, err := vault.Open(vault.Options{Dir: t.TempDir(), Recipients: recips, Floods: lim})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { v.Close() })
		return v
	}
	records := func(v *vault.Vault) int {
		es, err := v.List()
		if err != nil {
			t.Fatal(err)
		}
		return len(es)
	}
	t0 := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	ip := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)}) }
	type step struct {
		name     string
		gen      func(i int) *calls.Call
		n        int
		wantRecs int
	}
	for _, tc := range []step{
		// A desk nobody answers, a few times a minute for 20 minutes.
		{"normal", func(i int) *calls.Call {
			return unansweredCall(i, ip(i%3), "2001", t0.Add(time.Duration(i)*15*time.Second))
		}, 80, 80},
		// A scanner enumerating extensions from one address: its first
		// 10 a minute are kept; the next minute is still its flood.
		{"per source", func(i int) *calls.Call {
			return unansweredCall(i, ip(1), fmt.Sprint(2000+i), t0.Add(time.Duration(i)*200*time.Millisecond))
		}, 600, 10},
		// Many sources at one extension.
		{"per extension", func(i int) *calls.Call { return unansweredCall(i, ip(i), "2999", t0.Add(time.Duration(i)*time.Second)) }, 100, 5},
		// Many sources at many extensions: the overall bound.
		{"overall", func(i int) *calls.Call {
			return unansweredCall(i, ip(i), fmt.Sprint(2000+i), t0.Add(time.Duration(i)*100*time.Millisecond))
		}, 1200, 40},
	} {
		v := open()
		var batch []*calls.Call
		for i := 0; i < tc.n; i++ {
			batch = append(batch, tc.gen(i))
			if len(batch) == 50 || i == tc.n-1 {
				if err := v.DetailMany(drafts(batch...)); err != nil {
					t.Fatal(err)
				}
				batch = nil
			}
		}
		if got := records(v); got != tc.wantRecs || v.FloodDialogs() != uint64(tc.n-got) {
			t.Errorf("%s: %d unanswered dialogs: %d call records, %d aggregated; want %d records", tc.name, tc.n, got, v.FloodDialogs(), tc.wantRecs)
		}
	}
	// A flood's minute makes the next minute a flood too; a quiet minute
	// in between ends it.
	v := open()
	for i := 0; i < 20; i++ {
		if err := v.DetailMany(drafts(unansweredCall(i, ip(1), "2500", t0.Add(time.Duration(i)*time.Second)))); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []*calls.Call{unansweredCall(100, ip(1), "2500", t0.Add(70*time.Second)), unansweredCall(101, ip(1), "2500", t0.Add(190*time.Second))} {
		if err := v.DetailMany(drafts(c)); err != nil {
			t.Fatal(err)
		}
	}
	if got := records(v); got != 6 {
		t.Errorf("flood then a quiet minute: %d records, want 6 (5 of the flood's minute, 0 of the next, 1 after a quiet minute)", got)
	}
	// Answered calls are never counted or aggregated.
	ans := unansweredCall(200, ip(1), "2500", t0.Add(71*time.Second))
	ans.State = calls.Ended
	if err := v.DetailMany(drafts(ans)); err != nil {
		t.Fatal(err)
	}
	if got := records(v); got != 7 {
		t.Errorf("an answered call's record was aggregated: %d records, want 7", got)
	}
}

// Quota eviction removes the call records of unanswered dialogs before
// any recording, even recordings the policy lets go unsynced.
func TestEvictUnansweredRecordsFirst(t *testing.T) {
	_, recips, _ := newKey(t)
	start := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	clk := testkit.NewClock(start)
	dir := t.TempDir()
	opt := vault.Options{Dir: dir, Recipients: recips, Policy: testPolicy(), Now: clk.Now, ClockSynced: clk.Synced,
		Floods: noFloodLimits}
	v, err := vault.Open(opt)
	if err != nil {
		t.Fatal(err)
	}
	// Two scratch recordings (evictable unsynced), then 2,000 call
	// records of unanswered dialogs to a local extension.
	recordOnly(t, v, synth.Config{Calls: 12, Concurrent: 1, Duration: 3 * time.Second, Start: start}, 10)
	var batch []*calls.Call
	for i := 0; i < 2000; i++ {
		batch = append(batch, unansweredCall(i, netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)}), "2999", start.Add(time.Hour+time.Duration(i)*time.Millisecond)))
		if len(batch) == 500 {
			if err := v.DetailMany(drafts(batch...)); err != nil {
				t.Fatal(err)
			}
			batch = nil
		}
	}
	recIDs := map[string]bool{}
	all, _ := v.List()
	for _, e := range all {
		recIDs[e.ID] = e.Recorded
	}
	u := v.Usage()
	v.Close()
	// Reopen with a quota the next recording passes.
	opt.QuotaBytes, opt.HighWater, opt.LowWater = u.Used+u.Used/20, 0.9, 0.7
	v, err = vault.Open(opt)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	recordOnly(t, v, synth.Config{Calls: 31, Concurrent: 1, Duration: 3 * time.Second, Start: start.Add(2 * time.Hour)}, 30)
	es, _ := v.AuditEntries(1, 1<<20)
	var firstRec, lastCDR uint64
	var cdrs, recs int
	for _, e := range es {
		if e.Action != audit.QuotaDelete {
			continue
		}
		if recIDs[e.Recording] {
			recs++
			if firstRec == 0 {
				firstRec = e.Seq
			}
		} else {
			cdrs++
			lastCDR = max(lastCDR, e.Seq)
		}
	}
	t.Logf("quota deletions: %d call records of unanswered dialogs, %d recordings; %d counted", cdrs, recs, v.UnansweredEvicted())
	if cdrs == 0 || v.UnansweredEvicted() == 0 {
		t.Fatalf("no call record of an unanswered dialog evicted (%d recordings evicted)", recs)
	}
	if firstRec != 0 && firstRec < lastCDR {
		t.Errorf("a recording was evicted (audit seq %d) before the call records of unanswered dialogs (last at %d)", firstRec, lastCDR)
	}
	if v.Refusing() {
		t.Error("the new recording was refused")
	}
}

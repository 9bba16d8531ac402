package vault_test

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/spanvault/spanvault/capture"
	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/decode"
	"github.com/spanvault/spanvault/capture/sip"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/vault"
	"github.com/spanvault/spanvault/vault/export"
)

// The capture path hands finished calls to the writer and goes on; call
// detail records beyond the bound are shed, counted and alerted; every
// finished recording is sealed; Close drains the queue.
func TestAsyncWriterBoundsAndDrains(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	var alerts atomic.Int32
	v, err := vault.Open(vault.Options{Dir: t.TempDir(), Recipients: []age.Recipient{id.Recipient()},
		Alert: func(a vault.Alert) {
			if a.Kind == vault.AlertRecordsShed {
				alerts.Add(1)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	a, release := vault.NewAsyncHeld(v, 100)
	// 5 answered calls with media and 300 INVITEs never answered, while
	// the writer is stalled (a slow disk).
	g := synth.New(synth.Config{Calls: 5, Duration: time.Second, HalfOpen: 300, Seed: 3})
	var done []*calls.Call
	tr := calls.NewTracker(calls.Config{DialogTimeout: 5 * time.Second}, a, v)
	tr.Done = func(c *calls.Call) { done = append(done, c) }
	p := capture.NewPipeline(decode.New(decode.DefaultOptions), tr)
	g.Each(func(f synth.Frame) { p.Handle(f.Data, decode.LinkEthernet, f.Time) })
	p.Close("capture ended")
	if len(done) != 305 {
		t.Fatalf("%d calls ended", len(done))
	}
	if got := a.Shed.Load(); got != 200 {
		t.Fatalf("%d shed, want 200 (300 records into a queue of 100)", got)
	}
	// Shed at the bound is attack state, not a recording error (which
	// would turn the box's LED to "recording failing").
	if tr.Stats.DetailsShed != 200 || tr.Stats.RecordErrors != 0 {
		t.Fatalf("tracker: %d shed, %d record errors", tr.Stats.DetailsShed, tr.Stats.RecordErrors)
	}
	if alerts.Load() == 0 {
		t.Fatal("shedding not alerted")
	}
	release()
	a.Close()
	if a.Sealed.Load() != 5 || a.Written.Load() != 100 || a.Failed.Load() != 0 {
		t.Fatalf("sealed %d, written %d, failed %d", a.Sealed.Load(), a.Written.Load(), a.Failed.Load())
	}
	n := entryStates(t, v)
	complete, cdr := n[vault.StateComplete], n[vault.StateCDR]
	if complete != 5 || cdr != 100 {
		t.Fatalf("index holds %d recordings and %d records", complete, cdr)
	}
	if _, err := v.VerifyAudit(); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkFloodCapturePath: unanswered INVITEs into a full tracker
// (20,000 dialogs) whose recorder is the async writer on a real vault:
// the time on the capture goroutine per INVITE, each of which ends one
// dialog (its call detail record goes to the writer, no disk wait).
func BenchmarkFloodCapturePath(b *testing.B) {
	id, _ := age.GenerateX25519Identity()
	v, err := vault.Open(vault.Options{Dir: b.TempDir(), Recipients: []age.Recipient{id.Recipient()}})
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	a := vault.NewAsync(v, 0)
	tr := calls.NewTracker(calls.Config{MaxCalls: 20000}, a, v)
	src := netip.MustParseAddrPort("192.0.2.1:5060")
	dst := netip.MustParseAddrPort("10.2.0.1:5060")
	at := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	var m sip.Message
	msg := func(i int) []byte {
		return fmt.Appendf(nil, "INVITE sip:2001@x SIP/2.0\r\nCall-ID: flood-%09d\r\nFrom: <sip:scanner@x>;tag=f\r\nTo: <sip:2001@x>\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n", i)
	}
	for i := 0; i < 20000; i++ {
		sip.Parse(msg(i), false, &m)
		tr.SIP(&m, at, src, dst, "udp", nil)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sip.Parse(msg(20000+i), false, &m)
		at = at.Add(time.Microsecond)
		tr.SIP(&m, at, src, dst, "udp", nil)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "invites/s")
	b.ReportMetric(float64(a.Shed.Load()), "shed")
	a.Close()
	b.ReportMetric(float64(a.Written.Load()), "written")
}

// An INVITE flood of 100,000 unanswered dialogs to numbers that are not
// local into a 48 MB vault, around legitimate calls: the calls are recorded, the flood is a
// few aggregated hours, and the index stays small.
func TestFloodAggregated(t *testing.T) {
	dir := t.TempDir()
	id, _ := age.GenerateX25519Identity()
	var floodAlerts atomic.Int32
	v, err := vault.Open(vault.Options{Dir: dir, Recipients: []age.Recipient{id.Recipient()}, AggregateFloods: true, QuotaBytes: 48 << 20,
		Alert: func(a vault.Alert) {
			if a.Kind == vault.AlertFlood {
				floodAlerts.Add(1)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	a := vault.NewAsync(v, 0)
	tcfg := calls.Config{MaxCalls: 2000, Extensions: []string{"2xxxx"}}
	tr := calls.NewTracker(tcfg, a, v)
	p := capture.NewPipeline(decode.New(decode.DefaultOptions), tr)
	play := func(start time.Time, seed uint64) {
		g := synth.New(synth.Config{Calls: 3, Duration: time.Second, Seed: seed, Start: start})
		g.Each(func(f synth.Frame) { p.Handle(f.Data, decode.LinkEthernet, f.Time) })
	}
	at := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	play(at, 1) // before
	src := netip.MustParseAddrPort("203.0.113.50:5060")
	dst := netip.MustParseAddrPort("10.2.0.1:5060")
	var m sip.Message
	for i := 0; i < 100000; i++ {
		if i == 50000 {
			tr.Sweep(at)
			play(at, 2) // during
		}
		s := fmt.Sprintf("INVITE sip:100@10.2.0.1 SIP/2.0\r\nCall-ID: scan-%d\r\nFrom: <sip:100@203.0.113.50>;tag=s\r\nTo: <sip:100@10.2.0.1>\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n", i)
		if _, err := sip.Parse([]byte(s), false, &m); err != nil {
			t.Fatal(err)
		}
		at = at.Add(100 * time.Microsecond)
		tr.SIP(&m, at, src, dst, "udp", nil)
	}
	play(at.Add(time.Minute), 3) // after
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
	if recorded != 9 {
		t.Fatalf("%d legitimate calls recorded, want 9", recorded)
	}
	fl, _ := v.Floods()
	var n uint64
	for _, h := range fl {
		n += h.Dialogs
	}
	if n+uint64(records)+a.Shed.Load() < 100000 || records > 100 {
		t.Fatalf("flood: %d aggregated, %d records, %d shed", n, records, a.Shed.Load())
	}
	if floodAlerts.Load() == 0 {
		t.Fatal("the flood was not alerted")
	}
	v.Close()
	fi, _ := os.Stat(filepath.Join(dir, "vault.db"))
	t.Logf("100,000 flood dialogs: %d aggregated in %d hour records, %d call records, vault.db %d KiB", n, len(fl), records, fi.Size()>>10)
	if fi.Size() > 8<<20 {
		t.Fatalf("vault.db grew to %d MiB", fi.Size()>>20)
	}
}

// A recording that cannot be opened leaves one index entry (its call
// record), not two.
func TestFailedStartLeavesOneEntry(t *testing.T) {
	dir := t.TempDir()
	id, _ := age.GenerateX25519Identity()
	v, err := vault.Open(vault.Options{Dir: dir, Recipients: []age.Recipient{id.Recipient()}})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	blockShards(dir)
	g := synth.New(synth.Config{Calls: 1, Duration: time.Second})
	tr := calls.NewTracker(calls.Config{}, v, v)
	p := capture.NewPipeline(decode.New(decode.DefaultOptions), tr)
	g.Each(func(f synth.Frame) { p.Handle(f.Data, decode.LinkEthernet, f.Time) })
	p.Close("capture ended")
	es, _ := v.List()
	if len(es) != 1 || es[0].State != vault.StateCDR || !strings.Contains(es[0].Note, "could not be opened") {
		for _, e := range es {
			t.Logf("%+v", *e)
		}
		t.Fatalf("%d index entries, want one call record", len(es))
	}
}

// A read-only fsck of a vault whose recording was interrupted reports it
// once, not as a missing file plus a stray one.
func TestReadOnlyFsckInterruptedOnce(t *testing.T) {
	dir := t.TempDir()
	id, _ := age.GenerateX25519Identity()
	v, err := vault.Open(vault.Options{Dir: dir, Recipients: []age.Recipient{id.Recipient()}})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	g := synth.New(synth.Config{Calls: 1, Duration: 30 * time.Second})
	tr := calls.NewTracker(calls.Config{}, v, v)
	p := capture.NewPipeline(decode.New(decode.DefaultOptions), tr)
	for i := 0; i < 300; i++ { // into the call, not to its end
		f, ok := g.Next()
		if !ok {
			break
		}
		p.Handle(f.Data, decode.LinkEthernet, f.Time)
	}
	// The state a crash leaves: a copy taken mid-call.
	crashed := t.TempDir()
	if out, err := runCmd("cp", "-a", dir+"/.", crashed); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	os.Remove(filepath.Join(crashed, "lock"))
	ro, err := vault.Open(vault.Options{Dir: crashed, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := ro.Fsck(false)
	ro.Close()
	if err != nil || len(rep.Problems) != 1 || rep.InProgress != 1 {
		t.Fatalf("read-only fsck beside a recording: %+v %v", rep, err)
	}
	p.Close("capture ended")
}

// BenchmarkShutdown20k: SIGTERM with 20,000 dialogs held (an INVITE flood
// in progress): the tracker ends every dialog and the writer seals their
// call records into a real vault. Reports the seconds from the start of
// the shutdown until everything is on disk (the finding: 16-20 s, each
// record committed alone on the capture goroutine).
func BenchmarkShutdown20k(b *testing.B) {
	id, _ := age.GenerateX25519Identity()
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		v, err := vault.Open(vault.Options{Dir: b.TempDir(), Recipients: []age.Recipient{id.Recipient()}})
		if err != nil {
			b.Fatal(err)
		}
		a := vault.NewAsync(v, 0)
		tr := calls.NewTracker(calls.Config{MaxCalls: 20000}, a, v)
		src := netip.MustParseAddrPort("192.0.2.1:5060")
		dst := netip.MustParseAddrPort("10.2.0.1:5060")
		at := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
		var m sip.Message
		for j := 0; j < 20000; j++ {
			sip.Parse(fmt.Appendf(nil, "INVITE sip:2001@x SIP/2.0\r\nCall-ID: held-%09d\r\nFrom: <sip:scanner@x>;tag=f\r\nTo: <sip:2001@x>\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n", j), false, &m)
			tr.SIP(&m, at, src, dst, "udp", nil)
		}
		b.StartTimer()
		t0 := time.Now()
		tr.Close("ended by shutdown")
		a.Close()
		total += time.Since(t0)
		b.StopTimer()
		if w, s := a.Written.Load(), a.Shed.Load(); w+s < 20000 {
			b.Fatalf("%d written + %d shed of 20,000", w, s)
		}
		v.Close()
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "shutdown-s")
}

// A writer told that capture is behind, all the time, still seals every
// recording and writes every call record it took: it yields, it does not
// starve (Close drains), and it asked.
func TestAsyncYieldsButDrains(t *testing.T) {
	t.Parallel()
	v, _ := asyncTestVault(t, vault.Options{})
	a := vault.NewAsync(v, 0)
	var asked atomic.Int64
	a.YieldTo(func() bool { asked.Add(1); return true })
	g := synth.New(synth.Config{Calls: 3, Duration: time.Second, HalfOpen: 40, Seed: 5})
	tr := calls.NewTracker(calls.Config{DialogTimeout: 5 * time.Second}, a, v)
	p := capture.NewPipeline(decode.New(decode.DefaultOptions), tr)
	g.Each(func(f synth.Frame) { p.Handle(f.Data, decode.LinkEthernet, f.Time) })
	p.Close("capture ended")
	a.Close()
	if a.Sealed.Load() != 3 || a.Written.Load() != 40 || a.Shed.Load() != 0 || a.Failed.Load() != 0 {
		t.Fatalf("sealed %d, written %d, shed %d, failed %d", a.Sealed.Load(), a.Written.Load(), a.Shed.Load(), a.Failed.Load())
	}
	if asked.Load() == 0 {
		t.Fatal("the writer never asked whether capture was behind")
	}
}

// The capture path opens no file and commits nothing when a call starts:
// with the writer stalled (a slow card), calls with media run to their end
// and the vault has neither a file nor an index entry for them; released,
// the writer opens each, writes what was held and seals it whole. The
// calls are long enough to fill several sealed chunks while held.
func TestAsyncStartTouchesNoDisk(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	v, id := asyncTestVault(t, vault.Options{Dir: dir})
	a, release := vault.NewAsyncHeld(v, 0)
	g := synth.New(synth.Config{Calls: 4, Concurrent: 4, Duration: 20 * time.Second, Seed: 9})
	tr := calls.NewTracker(calls.Config{}, a, v)
	p := capture.NewPipeline(decode.New(decode.DefaultOptions), tr)
	half := false
	g.Each(func(f synth.Frame) {
		p.Handle(f.Data, decode.LinkEthernet, f.Time)
		if !half && tr.Stats.CallsRecorded == 4 {
			half = true
			// Every call has started recording: still nothing on disk.
			if es, _ := v.List(); len(es) != 0 {
				t.Errorf("%d index entries while the writer was stalled", len(es))
			}
			if files := recFiles(t, dir); len(files) != 0 {
				t.Errorf("files made on the capture path: %v", files)
			}
		}
	})
	p.Close("capture ended")
	if !half {
		t.Fatal("the calls never started recording")
	}
	release()
	a.Close()
	if a.Sealed.Load() != 4 || a.Failed.Load() != 0 {
		t.Fatalf("sealed %d, failed %d", a.Sealed.Load(), a.Failed.Load())
	}
	es, _ := v.List()
	if len(es) != 4 {
		t.Fatalf("%d entries, want 4", len(es))
	}
	for _, e := range es {
		frames, trunc, err := export.Frames(v, e.ID, []age.Identity{id})
		if err != nil || trunc || e.State != vault.StateComplete || uint64(len(frames)) != e.Frames || e.Size < 3*64<<10 {
			t.Fatalf("%s: %s, %d of %d frames, %d bytes, truncated %v, %v", e.ID, e.State, len(frames), e.Frames, e.Size, trunc, err)
		}
	}
	if rep, err := v.Fsck(false); err != nil || !rep.Clean() {
		t.Fatalf("fsck: %+v %v", rep, err)
	}
}

// recFiles lists the files under the vault's recording directory.
func recFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	filepath.WalkDir(filepath.Join(dir, "rec"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, path)
		}
		return nil
	})
	return files
}

// A recording the writer cannot open (no directory can be made) is
// counted as failed and alerted; its call is kept as one call detail
// record with the call's final state, and what its frames held is let go.
func TestAsyncStartFailureKeepsTheCall(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var alerted atomic.Int32
	v, _ := asyncTestVault(t, vault.Options{Dir: dir, Alert: func(a vault.Alert) {
		if a.Kind == vault.AlertDiskError {
			alerted.Add(1)
		}
	}})
	blockShards(dir)
	a := vault.NewAsync(v, 0)
	g := synth.New(synth.Config{Calls: 2, Concurrent: 2, Duration: 10 * time.Second, Seed: 4})
	tr := calls.NewTracker(calls.Config{}, a, v)
	p := capture.NewPipeline(decode.New(decode.DefaultOptions), tr)
	g.Each(func(f synth.Frame) { p.Handle(f.Data, decode.LinkEthernet, f.Time) })
	p.Close("capture ended")
	a.Close()
	if a.Failed.Load() != 2 || a.NotOpened.Load() != 2 || a.Sealed.Load() != 0 || alerted.Load() == 0 {
		t.Fatalf("failed %d, not opened %d, sealed %d, alerted %d", a.Failed.Load(), a.NotOpened.Load(), a.Sealed.Load(), alerted.Load())
	}
	if tr.Stats.RecordErrors != 0 {
		t.Fatalf("the tracker counted %d record errors: the writer counts a failed opening once", tr.Stats.RecordErrors)
	}
	es, _ := v.List()
	if len(es) != 2 {
		t.Fatalf("%d entries, want 2", len(es))
	}
	for _, e := range es {
		if e.State != vault.StateCDR || e.Recorded || !strings.Contains(e.Note, "could not be opened") || e.CallState != "ended" || e.End.IsZero() {
			t.Fatalf("%+v", *e)
		}
	}
}

// A call that starts and ends while the writer yields to capture is
// opened before it is sealed: a Finish taken with the Start queued after
// the writer's first look never waits for an opening that would come
// after it (it did: the writer waited for itself).
func TestAsyncStartAndFinishWhileYielding(t *testing.T) {
	t.Parallel()
	v, _ := asyncTestVault(t, vault.Options{})
	a := vault.NewAsync(v, 0)
	var busy atomic.Bool
	busy.Store(true)
	yielding := make(chan struct{})
	var once sync.Once
	a.YieldTo(func() bool {
		once.Do(func() { close(yielding) })
		return busy.Load()
	})
	// A call record wakes the writer: it finds nothing to open and
	// yields (capture is "behind").
	if err := a.Detail((&calls.Call{CallID: "wake@x", Start: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}).Draft()); err != nil {
		t.Fatal(err)
	}
	<-yielding
	// Meanwhile a short call starts and ends.
	tr := calls.NewTracker(calls.Config{}, a, v)
	p := capture.NewPipeline(decode.New(decode.DefaultOptions), tr)
	g := synth.New(synth.Config{Calls: 1, Duration: time.Second, Seed: 6})
	g.Each(func(f synth.Frame) { p.Handle(f.Data, decode.LinkEthernet, f.Time) })
	p.Close("capture ended")
	busy.Store(false)
	done := make(chan struct{})
	go func() { a.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second): // a deadlock guard, not a timing
		t.Fatal("the writer is stuck")
	}
	if a.Sealed.Load() != 1 || a.Written.Load() != 1 || a.Failed.Load() != 0 {
		t.Fatalf("sealed %d, written %d, failed %d", a.Sealed.Load(), a.Written.Load(), a.Failed.Load())
	}
}

// BenchmarkCaptureStart: the time a call's start costs the capture
// goroutine, the vault's synchronous Start (index commit with fsync, file,
// directory fsync) against the writer's (prepared in memory, opened by
// the writer): mean and worst per start, 200 calls open at once.
func BenchmarkCaptureStart(b *testing.B) {
	id, _ := age.GenerateX25519Identity()
	for _, mode := range []string{"sync", "async"} {
		b.Run(mode, func(b *testing.B) {
			v, err := vault.Open(vault.Options{Dir: b.TempDir(), Recipients: []age.Recipient{id.Recipient()}})
			if err != nil {
				b.Fatal(err)
			}
			defer v.Close()
			var rec calls.Recorder = v
			var a *vault.Async
			if mode == "async" {
				a = vault.NewAsync(v, 0)
				rec = a
			}
			at := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
			var total, worst time.Duration
			var open []calls.Recording
			var started []*calls.Call
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c := &calls.Call{CallID: fmt.Sprintf("bench-%d@x", i), From: "<sip:+4930111@x>", To: "<sip:2001@x>", Start: at, State: calls.Answered}
				t0 := time.Now()
				r, err := rec.Start(c.Draft())
				d := time.Since(t0)
				if err != nil {
					b.Fatal(err)
				}
				total += d
				worst = max(worst, d)
				open, started = append(open, r), append(started, c)
				if len(open) == 200 {
					b.StopTimer()
					for j, r := range open {
						if err := r.Finish(started[j].Draft()); err != nil {
							b.Fatal(err)
						}
					}
					open, started = open[:0], started[:0]
					b.StartTimer()
				}
			}
			b.StopTimer()
			for j, r := range open {
				if err := r.Finish(started[j].Draft()); err != nil {
					b.Fatal(err)
				}
			}
			if a != nil {
				a.Close()
			}
			b.ReportMetric(float64(total.Microseconds())/float64(b.N), "µs/start")
			b.ReportMetric(float64(worst.Microseconds()), "worst-µs")
		})
	}
}

// asyncTestVault opens a vault in a test directory, sealing to a new
// identity; it is closed when the test ends.
func asyncTestVault(t *testing.T, opt vault.Options) (*vault.Vault, *age.X25519Identity) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	if opt.Dir == "" {
		opt.Dir = t.TempDir()
	}
	opt.Recipients = []age.Recipient{id.Recipient()}
	v, err := vault.Open(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v, id
}

// blockShards takes every possible shard directory of the vault in dir
// by a file: no recording file can be created.
func blockShards(dir string) {
	const alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
	for _, a := range alphabet {
		for _, b := range alphabet {
			os.WriteFile(filepath.Join(dir, "rec", string(a)+string(b)), nil, 0o600)
		}
	}
}

// With the writer stalled for good (a hung card), what the capture side
// holds for unopened recordings stays within MaxUnopened: recordings
// beyond it are given up (counted, alerted, kept as call records), not
// the box's memory.
func TestAsyncUnopenedBudget(t *testing.T) {
	t.Parallel()
	const budget = 256 << 10
	v, _ := asyncTestVault(t, vault.Options{MaxUnopened: budget})
	a, release := vault.NewAsyncHeld(v, 0)
	g := synth.New(synth.Config{Calls: 4, Concurrent: 4, Duration: 30 * time.Second, Seed: 11})
	tr := calls.NewTracker(calls.Config{}, a, v)
	p := capture.NewPipeline(decode.New(decode.DefaultOptions), tr)
	var peak int64
	g.Each(func(f synth.Frame) {
		p.Handle(f.Data, decode.LinkEthernet, f.Time)
		peak = max(peak, vault.Unopened(v))
	})
	p.Close("capture ended")
	release()
	a.Close()
	if peak > budget || vault.Unopened(v) != 0 {
		t.Fatalf("held for unopened recordings: peak %d bytes (budget %d), %d after", peak, budget, vault.Unopened(v))
	}
	n := entryStates(t, v)
	gaveUp, complete := n[vault.StateCDR], n[vault.StateComplete]
	total := 0
	for _, k := range n {
		total += k
	}
	if gaveUp == 0 || gaveUp+complete != 4 || total != 4 || a.NotOpened.Load() != uint64(gaveUp) || a.Sealed.Load() != uint64(complete) {
		t.Fatalf("entries %v: %d given up, %d complete; not opened %d, sealed %d", n, gaveUp, complete, a.NotOpened.Load(), a.Sealed.Load())
	}
}

// entryStates counts the vault's index entries by state.
func entryStates(t *testing.T, v *vault.Vault) map[string]int {
	t.Helper()
	es, err := v.List()
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, e := range es {
		n[e.State]++
	}
	return n
}

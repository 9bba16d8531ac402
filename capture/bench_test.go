package capture_test

import (
	"bufio"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/spanvault/spanvault/capture"
	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/decode"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/record"
)

// discard is a Recorder that keeps nothing but counts, so that benchmarks
// measure the pipeline up to the hand-over to the vault.
type discard struct{ frames, bytes int }

func (d *discard) Start(*record.Draft) (calls.Recording, error) { return d, nil }
func (d *discard) Detail(*record.Draft) error                   { return nil }
func (d *discard) Write(f *calls.Frame) error {
	d.frames++
	d.bytes += len(f.Data)
	return nil
}
func (d *discard) Finish(*record.Draft) error { return nil }

var benchPcap struct {
	once sync.Once
	path string
	n    int
}

// BenchPcap writes (once per process) a capture of 200 concurrent G.711
// calls of 20 s each: 400,000 RTP packets. SPANVAULT_BENCH_PCAP names it
// so that make bench can time tshark on the same file.
func benchCapture(b *testing.B) (string, int) {
	benchPcap.once.Do(func() {
		path := os.Getenv("SPANVAULT_BENCH_PCAP")
		if path == "" {
			path = filepath.Join(os.TempDir(), "spanvault-bench-200calls.pcap")
		}
		g := synth.New(synth.Config{Calls: 200, Concurrent: 200, Duration: 20 * time.Second, Seed: 7})
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		bw := bufio.NewWriterSize(f, 1<<20)
		w := pcapgo.NewWriterNanos(bw)
		w.WriteFileHeader(65536, layers.LinkTypeEthernet)
		n := 0
		for {
			fr, ok := g.Next()
			if !ok {
				break
			}
			w.WritePacket(gopacket.CaptureInfo{Timestamp: fr.Time, CaptureLength: len(fr.Data), Length: len(fr.Data)}, fr.Data)
			n++
		}
		bw.Flush()
		f.Close()
		benchPcap.path, benchPcap.n = path, n
	})
	return benchPcap.path, benchPcap.n
}

// BenchmarkPipelineFile: a pcap of many concurrent G.711 calls, from the
// file to frames handed to the recorder, on one core.
func BenchmarkPipelineFile(b *testing.B) {
	path, n := benchCapture(b)
	b.ReportAllocs()
	b.ResetTimer()
	var d discard
	for i := 0; i < b.N; i++ {
		f, err := capture.OpenFile(path)
		if err != nil {
			b.Fatal(err)
		}
		tr := calls.NewTracker(calls.Config{}, &d, nil)
		p := capture.NewPipeline(decode.New(decode.DefaultOptions), tr)
		if err := p.Run(f); err != nil {
			b.Fatal(err)
		}
		p.Close("end")
		f.Close()
	}
	b.StopTimer()
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(n*b.N)/sec, "pkts/s")
	b.ReportMetric(float64(n), "pkts/op")
}

// BenchmarkRTPSteadyState: one op is one RTP packet of an established
// call through decode, association, statistics and hand-over. It must
// report 0 allocs/op.
func BenchmarkRTPSteadyState(b *testing.B) {
	const ncalls = 200
	g := synth.New(synth.Config{Calls: ncalls, Concurrent: ncalls, Duration: 30 * time.Second, Seed: 3})
	var d discard
	tr := calls.NewTracker(calls.Config{}, &d, nil)
	p := capture.NewPipeline(decode.New(decode.DefaultOptions), tr)
	// Run until every call is up and its media latched, keeping a window
	// of RTP frames to replay with advancing sequence numbers.
	var rtp []synth.Frame
	var last time.Time
	for len(rtp) < 4*ncalls {
		f, ok := g.Next()
		if !ok {
			b.Fatal("generator ended early")
		}
		p.Handle(f.Data, decode.LinkEthernet, f.Time)
		last = f.Time
		if tr.Active() == ncalls && len(f.Data) == 14+20+8+12+160 {
			rtp = append(rtp, synth.Frame{Time: f.Time, Data: append([]byte(nil), f.Data...)})
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f := &rtp[i%len(rtp)]
		// Advance RTP sequence (bytes 44-45 of the frame) and the IP ID so
		// the packet is new, not a duplicate.
		f.Data[45]++
		if f.Data[45] == 0 {
			f.Data[44]++
		}
		f.Data[19]++
		last = last.Add(50 * time.Microsecond)
		p.Handle(f.Data, decode.LinkEthernet, last)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
}

// BenchmarkMemoryPerCall: heap per concurrent call with media, at 1,000
// concurrent calls.
func BenchmarkMemoryPerCall(b *testing.B) {
	for i := 0; i < b.N; i++ {
		const ncalls = 1000
		g := synth.New(synth.Config{Calls: ncalls, Concurrent: ncalls, Duration: 30 * time.Second, Seed: 5})
		var d discard
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		tr := calls.NewTracker(calls.Config{}, &d, nil)
		p := capture.NewPipeline(decode.New(decode.DefaultOptions), tr)
		// Feed until every call has been up for a while (media latched in
		// both directions).
		upSince := time.Time{}
		for {
			f, ok := g.Next()
			if !ok {
				break
			}
			p.Handle(f.Data, decode.LinkEthernet, f.Time)
			if tr.Active() == ncalls && upSince.IsZero() {
				upSince = f.Time
			}
			if !upSince.IsZero() && f.Time.Sub(upSince) > 2*time.Second {
				break
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if tr.Active() != ncalls {
			b.Fatalf("%d calls active", tr.Active())
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/ncalls, "bytes/call")
		runtime.KeepAlive(p)
	}
}

// BenchmarkHalfOpenFlood: 10,000 INVITEs never answered plus random UDP
// noise over an hour of capture time. State expires, so the peak of live
// dialogs and of the heap stays bounded; both are reported.
func BenchmarkHalfOpenFlood(b *testing.B) {
	for i := 0; i < b.N; i++ {
		peakCalls, peakHeap := halfOpenFlood(b)
		b.ReportMetric(float64(peakCalls), "peak-dialogs")
		b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MiB")
	}
}

func halfOpenFlood(t testing.TB) (int, uint64) {
	g := synth.New(synth.Config{HalfOpen: 10000, Noise: 50000, Duration: time.Hour, Seed: 11})
	var d discard
	tr := calls.NewTracker(calls.Config{}, &d, nil)
	p := capture.NewPipeline(decode.New(decode.DefaultOptions), tr)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	peakCalls := 0
	var peakHeap uint64
	n := 0
	for {
		f, ok := g.Next()
		if !ok {
			break
		}
		p.Handle(f.Data, decode.LinkEthernet, f.Time)
		peakCalls = max(peakCalls, tr.Active())
		if n++; n%5000 == 0 {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > base {
				peakHeap = max(peakHeap, ms.HeapAlloc-base)
			}
		}
	}
	p.Close("end")
	return peakCalls, peakHeap
}

// TestHalfOpenFloodBounded: the state held never approaches the number of
// dialogs in the flood, because unanswered dialogs expire.
func TestHalfOpenFloodBounded(t *testing.T) {
	peak, heap := halfOpenFlood(t)
	// 10,000 dialogs over an hour with a 180 s dialog timeout: about 500
	// are alive at once; allow for the expiry sweep's granularity.
	if peak > 800 {
		t.Fatalf("%d dialogs held at the peak: state does not expire", peak)
	}
	t.Logf("peak %d dialogs, peak heap growth %.1f MiB", peak, float64(heap)/(1<<20))
}

package vault_test

import (
	"testing"
	"time"

	"github.com/spanvault/spanvault/capture"
	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/decode"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/record"
	"github.com/spanvault/spanvault/vault"
)

// statRec wraps the vault's recordings to total their write figures.
type statRec struct {
	v   *vault.Vault
	all []interface{ Stats() vault.WriteStats }
}

func (s *statRec) Start(d *record.Draft) (calls.Recording, error) {
	r, err := s.v.Start(d)
	if err == nil {
		s.all = append(s.all, r.(interface{ Stats() vault.WriteStats }))
	}
	return r, err
}
func (s *statRec) Detail(d *record.Draft) error { return s.v.Detail(d) }

// BenchmarkSealG711: G.711 calls through the pipeline into the vault on
// one core. Reports the storage ratio against the raw pcap of the same
// calls, write amplification, mean write size, fsyncs per recorded
// second, sealed throughput and the number of G.711 calls one core keeps
// up with.
func BenchmarkSealG711(b *testing.B) {
	_, recips, _ := newKey(b)
	const ncalls, dur = 20, 60 * time.Second
	g := synth.New(synth.Config{Calls: ncalls, Concurrent: ncalls, Duration: dur, Seed: 9})
	var frames []synth.Frame
	pcapBytes := 24
	for {
		f, ok := g.Next()
		if !ok {
			break
		}
		frames = append(frames, f)
		pcapBytes += 16 + len(f.Data)
	}
	b.ReportAllocs()
	b.ResetTimer()
	var st vault.WriteStats
	var onDisk int64
	var es []*vault.Entry
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		v, err := vault.Open(vault.Options{Dir: b.TempDir(), Recipients: recips, SyncEvery: time.Second})
		if err != nil {
			b.Fatal(err)
		}
		sr := &statRec{v: v}
		tr := calls.NewTracker(calls.Config{}, sr, v)
		p := capture.NewPipeline(decode.New(decode.DefaultOptions), tr)
		b.StartTimer()
		for _, f := range frames {
			p.Handle(f.Data, decode.LinkEthernet, f.Time)
		}
		p.Close("end")
		b.StopTimer()
		st = vault.WriteStats{}
		for _, r := range sr.all {
			s := r.Stats()
			st.Captured += s.Captured
			st.Written += s.Written
			st.Writes += s.Writes
			st.Syncs += s.Syncs
		}
		es, _ = v.List()
		onDisk = 0
		for _, e := range es {
			onDisk += e.Size
		}
		v.Close()
		b.StartTimer()
	}
	b.StopTimer()
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(float64(onDisk)/float64(pcapBytes), "disk/pcap")
	b.ReportMetric(float64(st.Written)/float64(st.Captured), "write-amp")
	b.ReportMetric(float64(st.Written)/float64(st.Writes)/1024, "KiB/write")
	// Replayed faster than real time, so this is the fsync at the end of
	// each recording plus the syncer's ticks (at most one a second each).
	b.ReportMetric(float64(st.Syncs)/float64(len(es)), "fsync/recording")
	mbps := float64(st.Captured) / sec / 1e6
	b.ReportMetric(mbps, "MB/s")
	// A G.711 call is about 20 KB/s of packets (2 x 50 x 214 bytes).
	b.ReportMetric(mbps*1e6/21400, "calls/core")
}

package client_test

import (
	"context"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/record/evidence"
)

// BenchmarkEvidence (issue 25, acceptance 5): the evidence bundle of a
// five-minute G.711 call with an RFC 3161 token from a local
// time-stamping authority: its size, what it adds to the sealed
// recording, the archive's time to write it, and the offline verifier's
// time per bundle (every proof and the token; ns/op).
func BenchmarkEvidence(b *testing.B) {
	e := newEnvTB(b)
	_, ids := e.ledgerDayOf(b, synth.Config{Calls: 1, Duration: 5 * time.Minute, Seed: 26})
	url, roots := localTSA(b, time.Now().UTC().Truncate(time.Second))
	t0 := time.Now()
	bundle, err := e.arch.Evidence(context.Background(), e.box, ids[0], archive.RFC3161(url, nil))
	if err != nil {
		b.Fatal(err)
	}
	write := time.Since(t0)
	pb, err := evidence.Parse(bundle)
	if err != nil {
		b.Fatal(err)
	}
	opt := evidence.Options{LogKey: e.arch.Log.VerifierKey(), CheckTimestamp: evidence.RFC3161(roots)}
	b.ResetTimer()
	for b.Loop() {
		if _, err := evidence.Verify(bundle, opt); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(len(bundle)), "bundle-B")
	b.ReportMetric(float64(len(pb.Recording)), "recording-B")
	b.ReportMetric(float64(len(bundle)-len(pb.Recording)), "overhead-B")
	b.ReportMetric(float64(len(pb.Timestamp)), "token-B")
	b.ReportMetric(float64(write.Microseconds())/1e3, "write-ms")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1e3/float64(b.N), "verify-ms")
}

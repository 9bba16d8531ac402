package vault

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/vault/retention"
)

// fill writes n call detail entries straight into the index in large
// transactions (a benchmark fixture: the public path commits one call at
// a time, as calls end).
func fill(tb testing.TB, v *Vault, n int, start time.Time) {
	tb.Helper()
	cl, _ := v.opt.Policy.Class(v.opt.Policy.DefaultClass)
	for lo := 0; lo < n; lo += 50000 {
		err := v.db.Update(func(tx *bolt.Tx) error {
			for i := lo; i < min(lo+50000, n); i++ {
				at := start.Add(time.Duration(i) * time.Second)
				e := &Entry{ID: newID(at), State: StateCDR, CallState: "rejected", Start: at, Class: cl.Name,
					Expiry: retention.Expiry(cl, at), Sync: SyncNotRequired}
				if err := putEntry(tx, e, nil); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkRetentionSweep1M: a sweep over 1,000,000 index entries of which
// half are past their maximum age. Reports entries examined per second,
// deletions per second and the bbolt file size before and after.
func BenchmarkRetentionSweep1M(b *testing.B) {
	n := 1000000
	if s := os.Getenv("SPANVAULT_SWEEP_ENTRIES"); s != "" {
		fmt.Sscan(s, &n)
	}
	start := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := b.TempDir()
		now := start
		pol := &retention.Policy{Classes: []retention.Class{{Name: "default", Record: true, MaxAge: retention.Duration(time.Duration(n/2) * time.Second)}}, DefaultClass: "default"}
		v, err := Open(Options{Dir: dir, Policy: pol, Now: func() time.Time { return now }})
		if err != nil {
			b.Fatal(err)
		}
		fill(b, v, n, start)
		st, _ := os.Stat(filepath.Join(dir, "vault.db"))
		before := st.Size()
		now = start.Add(time.Duration(n) * time.Second)
		b.StartTimer()
		t0 := time.Now()
		res, err := v.Sweep()
		el := time.Since(t0)
		b.StopTimer()
		if err != nil || res.Deleted < n/2-1 {
			b.Fatalf("sweep: %+v %v", res, err)
		}
		st, _ = os.Stat(filepath.Join(dir, "vault.db"))
		b.ReportMetric(float64(res.Examined)/el.Seconds(), "examined/s")
		b.ReportMetric(float64(res.Deleted)/el.Seconds(), "deleted/s")
		b.ReportMetric(float64(before)/(1<<20), "db-MiB-before")
		b.ReportMetric(float64(st.Size())/(1<<20), "db-MiB-after")
		v.Close()
	}
}

// BenchmarkFinishRecording: ops per second for ending a call into the
// index (one transaction with fsync each, as in production).
func BenchmarkFinishRecording(b *testing.B) {
	v, err := Open(Options{Dir: b.TempDir(), Floods: FloodLimits{PerSource: 1 << 30, PerExtension: 1 << 30, Overall: 1 << 30}})
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	c := &calls.Call{CallID: "x", State: calls.Rejected, Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Start = c.Start.Add(time.Second)
		if err := v.Detail(c.Draft()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "finishes/s")
}

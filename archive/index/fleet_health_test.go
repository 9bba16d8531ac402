package index_test

import (
	"context"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive/index"
)

// TestHealthHistory: two front-ends on each engine add check-ins to a
// box's hour; the hour keeps the last figures, the backlog's extremes,
// the widest clock offset with its sign, and an unsynchronised clock if
// any check-in had one; trends bucket hours; rows older than 30 days go.
func TestHealthHistory(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for name, ix := range engines(t) {
		t.Run(name, func(t *testing.T) {
			a, b := ix[0], ix[1]
			add := func(x *index.Index, at time.Time, backlog int64, synced bool, offset float64) {
				t.Helper()
				if err := x.RecordHealth(ctx, "branch-1", index.HealthPoint{At: at, Backlog: backlog, DiskUsed: backlog * 10, DiskTotal: 1000, ClockSynced: synced, ClockOffset: offset, Version: "1.4.2"}); err != nil {
					t.Fatal(err)
				}
			}
			add(a, t0, 5, true, 0)
			add(b, t0.Add(10*time.Minute), 9, false, -300)
			add(a, t0.Add(20*time.Minute), 2, true, 100)
			add(b, t0.Add(2*time.Hour), 1, true, 0)
			add(a, t0.Add(-40*24*time.Hour), 7, true, 0)
			tr, err := b.HealthTrends(ctx, t0.Add(-time.Hour), 1)
			if err != nil {
				t.Fatal(err)
			}
			ps := tr["branch-1"]
			if len(ps) != 2 {
				t.Fatalf("%d hours: %+v", len(ps), ps)
			}
			p := ps[0]
			if p.Hour != index.HourOf(t0) || p.Backlog != 2 || p.BacklogMin != 2 || p.BacklogMax != 9 || p.DiskUsed != 20 || p.ClockSynced || p.ClockOffset != -300 || p.CheckIns != 3 {
				t.Fatalf("the hour: %+v", p)
			}
			six, err := a.HealthTrends(ctx, t0.Add(-time.Hour), 6)
			if err != nil || len(six["branch-1"]) != 1 || six["branch-1"][0].CheckIns != 4 || six["branch-1"][0].BacklogMin != 1 {
				t.Fatalf("six-hour buckets: %+v %v", six, err)
			}
			n, err := a.PruneHealth(ctx, t0)
			if err != nil || n != 1 {
				t.Fatalf("pruned %d (%v), want the row of 40 days ago", n, err)
			}
		})
	}
}

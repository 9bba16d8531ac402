package access

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/index"
)

// TestTrendCacheAgrees: the fleet page's trends read through the cache of
// finished buckets equal the whole window read afresh, as check-ins add
// to the bucket of now, the bucket of now moves on, and the oldest hours
// leave the window and are pruned.
func TestTrendCacheAgrees(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "archive")
	if err := archive.Init(dir, archive.InitOptions{Name: "trends", Listen: "127.0.0.1:0"}); err != nil {
		t.Fatal(err)
	}
	a, err := archive.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	now := time.Date(2026, 3, 10, 13, 20, 0, 0, time.UTC)
	a.Now = func() time.Time { return now }
	s := New(a, nil)
	ctx := context.Background()
	record := func(box string, at time.Time, backlog int64) {
		t.Helper()
		if err := a.Index.RecordHealth(ctx, box, index.HealthPoint{At: at, Backlog: backlog, DiskUsed: backlog << 20, DiskTotal: 1 << 40, ClockSynced: backlog%7 != 3}); err != nil {
			t.Fatal(err)
		}
	}
	for h := 0; h < 31*24; h += 5 {
		for b := range 3 {
			record(fmt.Sprintf("box-%d", b), now.Add(-time.Duration(h)*time.Hour), int64(h*b%41))
		}
	}
	check := func(what string) {
		t.Helper()
		first := index.HourOf(now.Add(-trendDays * 24 * time.Hour))
		want, err := a.Index.TrendLines(ctx, trendHours, [2]int64{first, 0})
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.trendLines(ctx, now)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: trends through the cache differ from the window read afresh:\n%v\n%v", what, got, want)
		}
	}
	check("first view")
	check("second view")
	for step := range 30 {
		now = now.Add(47 * time.Minute)
		record("box-1", now, int64(step))
		record(fmt.Sprintf("new-%d", step%4), now, int64(step+1))
		if step%9 == 0 {
			if _, err := a.Index.PruneHealth(ctx, now); err != nil {
				t.Fatal(err)
			}
		}
		check(fmt.Sprintf("at %s", now.Format(time.DateTime)))
	}
}

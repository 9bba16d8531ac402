package access

import (
	"context"
	"sync"
	"time"

	"github.com/spanvault/spanvault/archive/index"
)

// trendCache keeps the fleet page's finished six-hour buckets. An hour
// that ended is never written again (the archive records a check-in's
// health under the hour of its own clock, index.RecordHealth; pruning
// removes only hours before the 30 days), so a view reads afresh only
// the bucket of now and the window's first (partly older than 30 days);
// the buckets between are read once per front-end each time the bucket
// of now moves on (every six hours). A page of 500 boxes read all 30 days
// (360,000 rows aggregated) at every view before.
type trendCache struct {
	mu       sync.Mutex
	from, to int64 // the hours the cached buckets cover: [from, to)
	lines    map[string][]index.HealthPoint
}

// trendLines is every box's 30 days in buckets of trendHours, oldest
// first, the bucket of now the last: what index.TrendLines answers for
// the whole window.
func (s *Service) trendLines(ctx context.Context, now time.Time) (map[string][]index.HealthPoint, error) {
	first := index.HourOf(now.Add(-trendDays * 24 * time.Hour))
	mid := (first/trendHours + 1) * trendHours // the second bucket's first hour
	cur := index.HourOf(now) / trendHours * trendHours
	if cur <= mid {
		return s.A.Index.TrendLines(ctx, trendHours, [2]int64{first, 0})
	}
	c := &s.trends
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lines == nil || c.from != mid || c.to != cur {
		lines, err := s.A.Index.TrendLines(ctx, trendHours, [2]int64{mid, cur})
		if err != nil {
			return nil, err
		}
		c.from, c.to, c.lines = mid, cur, lines
	}
	live, err := s.A.Index.TrendLines(ctx, trendHours, [2]int64{first, mid}, [2]int64{cur, 0})
	if err != nil {
		return nil, err
	}
	out := make(map[string][]index.HealthPoint, max(len(live), len(c.lines)))
	for name, ps := range c.lines {
		out[name] = ps
	}
	for name, ps := range live {
		var head, tail []index.HealthPoint
		for _, p := range ps {
			if p.Hour < mid {
				head = append(head, p)
			} else {
				tail = append(tail, p)
			}
		}
		out[name] = append(append(head, out[name]...), tail...)
	}
	return out, nil
}

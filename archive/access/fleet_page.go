package access

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/spanvault/spanvault/archive/index"
)

// The fleet page: every box's health at a glance, the ones needing
// attention first with why, and 30-day trends drawn as server-rendered
// SVG (no script, no inline style: the CSP allows it as is).

// trendDays and trendHours: the page's trends cover 30 days in buckets
// of six hours (121 points a line, the bucket of now the last).
const (
	trendDays  = 30
	trendHours = 6
	trendSlots = trendDays*24/trendHours + 1 // the bucket of now too
)

type fleetView struct {
	pageHead
	Boxes     []fleetRow
	Total     int
	Attention int
	Now       string
	fleetPage // the page of boxes shown and its filter (fleet_list.go)
}

type fleetRow struct {
	Box
	Age     string // since the last check-in
	Backlog string // "5 (1.7 MB)"
	Disk    string // "1.1 GB / 32.0 GB (3 %)"
	Clock   string // "synchronised", "not synchronised", with the offset
	Cert    string
	Trend   trend
}

// trend is one box's 30 days as SVG polylines in a 121 x 24 box.
type trend struct {
	Backlog, Disk, Drops string // polyline points
	Unsynced             []span // the buckets with the clock unsynchronised, runs of them
	BacklogMax           int64
	DiskMax              string
	DropsGrowth          int64
	Empty                bool
}

func (s *Service) fleetView(ctx context.Context, u *User, f fleetFilter) (fleetView, error) {
	bs, err := s.fleetFor(ctx, u)
	if err != nil {
		return fleetView{}, err
	}
	now := s.now()
	from := now.Add(-trendDays * 24 * time.Hour)
	hist, err := s.trendLines(ctx, now)
	if err != nil {
		return fleetView{}, err
	}
	byAttention(bs)
	v := fleetView{Total: len(bs), Now: now.UTC().Format("2006-01-02 15:04 UTC")}
	first := index.HourOf(from) / trendHours * trendHours
	for _, b := range bs {
		if b.Attention {
			v.Attention++
		}
	}
	bs, v.fleetPage = pageOf(bs, f)
	for _, b := range bs {
		h := b.Health
		r := fleetRow{Box: b, Age: sinceText(time.Duration(b.CheckInAge) * time.Second), Backlog: fmt.Sprintf("%d (%s)", h.Backlog, Bytes(h.BacklogBytes)),
			Trend: drawTrend(hist[b.Name], first)}
		if b.LastCheckIn.IsZero() {
			r.Age, r.Backlog = "", ""
		}
		if h.DiskTotal > 0 {
			r.Disk = fmt.Sprintf("%s / %s (%d %%)", Bytes(h.DiskUsed), Bytes(h.DiskTotal), h.DiskUsed*100/h.DiskTotal)
		}
		switch {
		case b.LastCheckIn.IsZero():
		case h.ClockSynced:
			r.Clock = "synchronised"
		default:
			r.Clock = "not synchronised"
		}
		if !h.CertNotAfter.IsZero() {
			r.Cert = h.CertNotAfter.UTC().Format("2006-01-02")
		}
		v.Boxes = append(v.Boxes, r)
	}
	return v, nil
}

// sinceText prints a duration the way the page shows a check-in's age.
func sinceText(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h %02d min", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%d d", int(d.Hours()/24))
}

// span is a run of buckets: from x, w of them.
type span struct{ X, W int }

// drawTrend scales a box's buckets into polylines: x is the bucket's
// place in the 30 days, y its value against the box's own maximum.
func drawTrend(ps []index.HealthPoint, first int64) trend {
	t := trend{Empty: len(ps) == 0}
	if t.Empty {
		return t
	}
	var maxB, maxD, maxK, minK int64
	minK = ps[0].KernelDrops
	for _, p := range ps {
		maxB, maxD, maxK = max(maxB, p.BacklogMax), max(maxD, p.DiskUsed), max(maxK, p.KernelDrops)
		minK = min(minK, p.KernelDrops)
	}
	t.BacklogMax, t.DiskMax, t.DropsGrowth = maxB, Bytes(maxD), maxK-minK
	line := func(val func(index.HealthPoint) int64, lo, hi int64) string {
		pts := make([][2]int64, 0, len(ps))
		for _, p := range ps {
			x := (p.Hour - first) / trendHours
			if x < 0 || x >= trendSlots {
				continue
			}
			y := int64(22) // whole units: the line is drawn 24 pixels high
			if hi > lo {
				y = 22 - int64(math.Round(20*float64(val(p)-lo)/float64(hi-lo)))
			}
			// A point on the straight line from the one before it to this
			// one is left out: the line drawn is the same.
			if n := len(pts); n >= 2 && (pts[n-1][0]-pts[n-2][0])*(y-pts[n-2][1]) == (x-pts[n-2][0])*(pts[n-1][1]-pts[n-2][1]) {
				pts[n-1] = [2]int64{x, y}
				continue
			}
			pts = append(pts, [2]int64{x, y})
		}
		var sb strings.Builder
		for i, pt := range pts {
			if i > 0 {
				sb.WriteByte(' ')
			}
			sb.WriteString(strconv.FormatInt(pt[0], 10))
			sb.WriteByte(',')
			sb.WriteString(strconv.FormatInt(pt[1], 10))
		}
		return sb.String()
	}
	t.Backlog = line(func(p index.HealthPoint) int64 { return p.BacklogMax }, 0, maxB)
	t.Disk = line(func(p index.HealthPoint) int64 { return p.DiskUsed }, 0, maxD)
	t.Drops = line(func(p index.HealthPoint) int64 { return p.KernelDrops }, minK, maxK)
	for _, p := range ps {
		x := int((p.Hour - first) / trendHours)
		if p.ClockSynced || x < 0 || x >= trendSlots {
			continue
		}
		if n := len(t.Unsynced); n > 0 && t.Unsynced[n-1].X+t.Unsynced[n-1].W >= x {
			t.Unsynced[n-1].W = x - t.Unsynced[n-1].X + 1
			continue
		}
		t.Unsynced = append(t.Unsynced, span{x, 1})
	}
	return t
}

// fleetHistory attaches each box's 30 days (buckets of six hours) to the
// API's answer.
func (s *Service) fleetHistory(ctx context.Context, bs []Box) error {
	hist, err := s.A.Index.HealthTrends(ctx, s.now().Add(-trendDays*24*time.Hour), trendHours)
	if err != nil {
		return err
	}
	for i := range bs {
		bs[i].History = hist[bs[i].Name]
	}
	return nil
}

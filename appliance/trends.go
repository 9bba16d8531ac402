package appliance

import (
	"fmt"
	"html/template"
	"strings"
	"time"
)

// Trends of the last day on the status page: the box's own counters
// (calls seen, packets captured, kernel drops, disk used) sampled every
// trendEvery by refresh, kept in memory in a ring of at most trendSlots
// samples (a day; a restart starts it anew), and drawn on the page as
// inline SVG (no script, no external asset: the page's CSP allows
// neither).

const (
	trendEvery = 5 * time.Minute
	trendSpan  = 24 * time.Hour
	trendSlots = int(trendSpan/trendEvery) + 1
)

// trendPoint is one sample of the counters.
type trendPoint struct {
	At       time.Time
	Calls    uint64 // INVITE dialogs seen since start
	Packets  uint64 // frames captured since start
	Drops    uint64 // kernel drops since start
	DiskUsed int64
}

// trendRing keeps the samples, oldest first, at most trendSlots.
type trendRing struct {
	pts []trendPoint
}

// observe keeps p when the last sample is trendEvery old (or there is
// none), dropping samples beyond a day.
func (r *trendRing) observe(p trendPoint) {
	if n := len(r.pts); n > 0 && p.At.Sub(r.pts[n-1].At) < trendEvery {
		return
	}
	r.pts = append(r.pts, p)
	drop := 0
	for drop < len(r.pts) && (len(r.pts)-drop > trendSlots || p.At.Sub(r.pts[drop].At) > trendSpan) {
		drop++
	}
	if drop > 0 {
		r.pts = append(r.pts[:0], r.pts[drop:]...)
	}
}

// Trend is one series drawn on the page.
type Trend struct {
	ID    string // the SVG's id: trend-calls, trend-packets, ...
	Title string
	Unit  string
	Now   string // the last value, with its unit
	Max   string // the top of the scale
	SVG   template.HTML
}

// trends draws the series at now (the right edge).
func (r *trendRing) trends(now time.Time) []Trend {
	type series struct {
		id, title, unit string
		v               func(prev, cur trendPoint) float64
		format          func(float64) string
	}
	delta := func(a, b uint64) float64 {
		if b < a {
			return 0
		}
		return float64(b - a)
	}
	count := func(f float64) string { return trimFloat(f, 0) }
	ss := []series{
		{"trend-calls", "Calls per 5 minutes", "calls", func(p, c trendPoint) float64 {
			return delta(p.Calls, c.Calls) * float64(trendEvery) / float64(c.At.Sub(p.At))
		}, count},
		{"trend-packets", "Packets per second", "packets/s", func(p, c trendPoint) float64 {
			return delta(p.Packets, c.Packets) / c.At.Sub(p.At).Seconds()
		}, func(f float64) string { return trimFloat(f, 1) }},
		{"trend-drops", "Kernel drops per 5 minutes", "drops", func(p, c trendPoint) float64 {
			return delta(p.Drops, c.Drops) * float64(trendEvery) / float64(c.At.Sub(p.At))
		}, count},
		{"trend-disk", "Disk used by recordings", "", func(_, c trendPoint) float64 { return float64(c.DiskUsed) }, func(f float64) string { return formatBytes(int64(f)) }},
	}
	out := make([]Trend, 0, len(ss))
	for _, s := range ss {
		var xs, ys []float64
		top := 0.0
		for i := 1; i < len(r.pts); i++ {
			v := s.v(r.pts[i-1], r.pts[i])
			xs = append(xs, trendW-float64(now.Sub(r.pts[i].At))/float64(trendSpan)*trendW)
			ys = append(ys, v)
			top = max(top, v)
		}
		t := Trend{ID: s.id, Title: s.title, Unit: s.unit, Max: s.format(top)}
		if len(ys) > 0 {
			t.Now = s.format(ys[len(ys)-1])
		}
		t.SVG = trendSVG(s.id, s.title, xs, ys, top, len(r.pts))
		out = append(out, t)
	}
	return out
}

// trendW is a chart's width in its own units (its text is 11 of them:
// legible at the page's width).
const trendW = 300.0

// trendSVG is one chart, trendW by 80, the last day left to right.
func trendSVG(id, title string, xs, ys []float64, top float64, samples int) template.HTML {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg id="%s" class="trend" viewBox="0 0 300 100" role="img" aria-label="%s, last 24 hours">`, id, template.HTMLEscapeString(title))
	b.WriteString(`<rect class="plot" x="0" y="0" width="300" height="80"></rect>`)
	for _, g := range []struct {
		x     float64
		label string
	}{{0, "-24 h"}, {75, "-18 h"}, {150, "-12 h"}, {225, "-6 h"}, {trendW, "now"}} {
		anchor := "middle"
		switch g.x {
		case 0:
			anchor = "start"
		case trendW:
			anchor = "end"
		}
		fmt.Fprintf(&b, `<line class="grid" x1="%.0f" y1="0" x2="%.0f" y2="80"></line><text x="%.0f" y="96" text-anchor="%s">%s</text>`, g.x, g.x, g.x, anchor, g.label)
	}
	if len(ys) == 0 {
		fmt.Fprintf(&b, `<text class="empty" x="150" y="45" text-anchor="middle">collecting: %d of %d samples</text>`, samples, trendSlots)
	} else {
		var pts strings.Builder
		for i := range ys {
			y := 78.0
			if top > 0 {
				y = 78 - ys[i]/top*74
			}
			fmt.Fprintf(&pts, "%.1f,%.1f ", xs[i], y)
		}
		fmt.Fprintf(&b, `<polyline class="series" points="%s"></polyline>`, strings.TrimSpace(pts.String()))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // numbers and fixed text only; the title escaped
}

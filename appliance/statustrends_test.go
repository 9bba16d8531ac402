package appliance

import (
	"io"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestStatusPageTrends: the status page, from the box's real status
// listener, draws the last day of calls, packets, kernel drops and disk
// as inline SVG (one polyline per series, from the counters sampled
// every five minutes, at most a day of them kept), and says how old the
// counts from the index are.
func TestStatusPageTrends(t *testing.T) {
	a := testAppliance(t, "")
	now := time.Now()
	// Two days of samples every five minutes: only the last day is kept.
	for i := 2 * trendSlots; i >= 0; i-- {
		k := uint64(2*trendSlots - i)
		a.trend.observe(trendPoint{At: now.Add(-time.Duration(i) * trendEvery), Calls: 3 * k, Packets: 15000 * k, Drops: k / 100, DiskUsed: int64(k) << 20})
	}
	if n := len(a.trend.pts); n > trendSlots {
		t.Fatalf("the trend ring holds %d samples, want at most %d", n, trendSlots)
	}
	// The index was counted 40 seconds ago.
	a.mu.Lock()
	a.idx = indexCounts{at: now.Add(-40 * time.Second), recordings: 812, classicalOf: map[string]bool{}}
	a.mu.Unlock()

	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(b)
	for _, id := range []string{"trend-calls", "trend-packets", "trend-drops", "trend-disk"} {
		m := regexp.MustCompile(`<svg id="` + id + `"[^>]*>.*?</svg>`).FindString(page)
		if m == "" {
			t.Errorf("the page has no %s chart", id)
			continue
		}
		pl := regexp.MustCompile(`<polyline class="series" points="([^"]*)"`).FindStringSubmatch(m)
		if pl == nil {
			t.Errorf("%s has no series: %.300s", id, m)
			continue
		}
		if n := len(strings.Fields(pl[1])); n < trendSlots-2 {
			t.Errorf("%s draws %d points, want a day of samples (%d)", id, n, trendSlots-1)
		}
	}
	if !strings.Contains(page, "Packets per second: <b>50.0</b>") {
		t.Errorf("the packets trend does not say its last value (15000 packets in 5 minutes = 50.0/s): %.400s", between(page, `id="trends"`, `</div>`))
	}
	if !regexp.MustCompile(`id="recordings">812</span> <span class="age">\(index counted once a minute, 4\d s ago\)`).MatchString(page) {
		t.Errorf("the recordings kept are not labelled with their age: %q", between(page, `id="recordings"`, `</tr>`))
	}
	if !strings.Contains(page, `id="recorded-today">0</span> <span class="age">(live)`) {
		t.Errorf("recorded today is not labelled live: %q", between(page, `id="recorded-today"`, `</tr>`))
	}
	if m := inlineCode.FindString(page); m != "" {
		t.Errorf("the trends bring inline code the CSP refuses: %q", m)
	}
}

func between(s, a, b string) string {
	i := strings.Index(s, a)
	if i < 0 {
		return ""
	}
	s = s[i+len(a):]
	if j := strings.Index(s, b); j >= 0 {
		return s[:j]
	}
	return s
}

package archive

import (
	"fmt"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// TestEnrollLimiterNotClearedByFlood (review: flooding resets the
// enrollment rate limiter): requests from one IPv6 /48, each from a new
// /64, were refused by the /48's limiter but still added map entries; at
// 4096 the map was cleared, and with it the /48's (and /32's) limiters:
// the /48 got a fresh burst each time. In one instant (no refill) the
// /48 passes at most its burst (20). (Old code: 500 passed.)
func TestEnrollLimiterNotClearedByFlood(t *testing.T) {
	var l enrollLimiter
	now := time.Unix(1_800_000_000, 0)
	l.all = rate.NewLimiter(rate.Inf, 0) // look past the global limiter: what the /48 alone lets through
	l.sources = map[string]*rate.Limiter{}
	passed := 0
	for i := 0; i < 100000; i++ {
		src := fmt.Sprintf("2001:db8:1:%x::1", i%65536)
		if l.allow(src, now) {
			passed++
		}
	}
	if passed > 20 {
		t.Errorf("one /48 passed %d requests in one instant; its burst is 20 (the 4096-entry clear resets its limiter)", passed)
	}
	if len(l.sources) > 20+2 {
		t.Errorf("refused requests added limiters: %d kept", len(l.sources))
	}
}

// TestEnrollLimiterBounded: with the overall limit out of the way, many
// networks fill the map; it stays at maxEnrollLimiters, a drained /48
// stays drained while it is full, and once the limiters are idle again
// (a few seconds on) new networks get in.
func TestEnrollLimiterBounded(t *testing.T) {
	var l enrollLimiter
	now := time.Unix(1_800_000_000, 0)
	l.all = rate.NewLimiter(rate.Inf, 0)
	l.sources = map[string]*rate.Limiter{}
	for i := 0; i < 20; i++ {
		if !l.allow(fmt.Sprintf("2001:db8:1:%x::1", i), now) {
			t.Fatalf("request %d of the /48's burst refused", i)
		}
	}
	for i := 0; i < 10000; i++ {
		l.allow(fmt.Sprintf("%d.%d.0.1", 1+i/256, i%256), now) // a /24 and a /16 each
		if len(l.sources) > maxEnrollLimiters {
			t.Fatalf("%d limiters kept, at most %d", len(l.sources), maxEnrollLimiters)
		}
	}
	if len(l.sources) < maxEnrollLimiters-1 {
		t.Fatalf("the map did not fill: %d limiters", len(l.sources))
	}
	for i := 20; i < 100; i++ {
		if l.allow(fmt.Sprintf("2001:db8:1:%x::1", i), now) {
			t.Fatal("the drained /48 passed again while the map was full")
		}
	}
	now = now.Add(10 * time.Second)
	if !l.allow("198.51.100.1", now) {
		t.Error("a new network refused once the limiters were idle")
	}
}

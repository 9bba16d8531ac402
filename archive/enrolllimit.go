package archive

import (
	"time"

	"golang.org/x/time/rate"
)

// maxEnrollLimiters bounds the per-network limiters an enrollLimiter
// keeps. Only a request that passes adds limiters, and passing requests
// are bounded by the overall limit (20 a second, burst 40); a limiter is
// back at its full burst (idle, the same as a new one, so dropped
// without changing anything) within a second of its last request, so
// a few hundred are ever in use at once.
const maxEnrollLimiters = 4096

const sweepEvery = 100 * time.Millisecond

// allow reports whether an enrollment request from src may go on, and
// if so takes a token from each of its networks' limiters and the
// overall one. A request is checked against all of them, widest network
// first, before anything is taken or added: a refused request changes
// nothing. Limiters are never reset: when the map is full, idle ones
// are dropped; if none is idle, a request that needs a new one is
// refused.
func (l *enrollLimiter) allow(src string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.all == nil {
		l.all = rate.NewLimiter(20, 40)
	}
	if l.sources == nil {
		l.sources = map[string]*rate.Limiter{}
	}
	nets, ls := sourceNets(src) // each network src is in: /24, /16; /64, /48, /32 (enrollprefix.go)
	missing := 0
	for i := len(nets) - 1; i >= 0; i-- {
		s := l.sources[nets[i]]
		if s == nil {
			missing++ // a new limiter has its full burst
			continue
		}
		if s.TokensAt(now) < 1 {
			return false
		}
	}
	if missing > 0 && len(l.sources)+missing > maxEnrollLimiters {
		l.dropIdle(now)
		if len(l.sources)+missing > maxEnrollLimiters {
			return false
		}
	}
	if !l.all.AllowN(now, 1) {
		return false
	}
	for i, n := range nets {
		s := l.sources[n]
		if s == nil {
			s = rate.NewLimiter(ls[i].rate, ls[i].burst)
			l.sources[n] = s
		}
		s.AllowN(now, 1) // has a token: checked above, under l.mu
	}
	return true
}

// dropIdle drops the limiters back at their full burst: a new one
// would be the same. It looks at most every sweepEvery, so a full map
// of busy limiters costs no more than a map lookup a request.
func (l *enrollLimiter) dropIdle(now time.Time) {
	if d := now.Sub(l.swept); d >= 0 && d < sweepEvery {
		return
	}
	l.swept = now
	for n, s := range l.sources {
		if s.TokensAt(now) >= float64(s.Burst()) {
			delete(l.sources, n)
		}
	}
}

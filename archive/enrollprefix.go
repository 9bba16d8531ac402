package archive

import (
	"net/netip"
	"time"
)

// Enrollment requests per network: one attacker holds a whole IPv4 /24
// or IPv6 /64 as easily as one address, so the rate limit and the cap on
// pending requests count by that prefix, and a request expires EnrollIdle
// after the box last asked (a pending box asks every poll_every, 30 s by
// default), never later than EnrollTTL after it first asked. A flood from
// one prefix holds at most MaxPendingPerPrefix requests, for at most
// EnrollIdle after it stops.
const (
	MaxPendingPerPrefix = 16
	EnrollIdle          = time.Hour
)

// RefuseEnrollPrefix: the source's network has MaxPendingPerPrefix
// requests pending.
const RefuseEnrollPrefix = "too many enrollment requests pending from this network: try again later"

// sourcePrefix is the network an address is counted under: its /24 for
// IPv4 (IPv4-mapped IPv6 included), its /64 for IPv6; what does not
// parse as an address is counted as itself.
func sourcePrefix(src string) string {
	ip, err := netip.ParseAddr(src)
	if err != nil {
		return src
	}
	ip = ip.Unmap().WithZone("")
	bits := 64
	if ip.Is4() {
		bits = 24
	}
	p, err := ip.Prefix(bits)
	if err != nil {
		return src
	}
	return p.String()
}

// pendingFromPrefix counts sources (the pending requests' addresses)
// within src's prefix.
func pendingFromPrefix(sources []string, src string) int {
	want, n := sourcePrefix(src), 0
	for _, s := range sources {
		if sourcePrefix(s) == want {
			n++
		}
	}
	return n
}

// enrollExpiry is when a request asked at now expires: EnrollIdle later,
// but never after EnrollTTL from its first request.
func enrollExpiry(requested, now time.Time) time.Time {
	if end := requested.Add(EnrollTTL); end.Before(now.Add(EnrollIdle)) {
		return end
	}
	return now.Add(EnrollIdle)
}

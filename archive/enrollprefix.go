package archive

import (
	"net/netip"
	"time"

	"golang.org/x/time/rate"
)

// Enrollment requests per network: one attacker holds a whole IPv4 /24
// or IPv6 /64 as easily as one address, and a site's IPv6 /48 (65,536
// /64s) or a provider's /32 as easily as that, so the rate limit and the
// cap on pending requests count by each of these prefixes (prefixLevels:
// /24 and /16 for IPv4, /64, /48 and /32 for IPv6), and a request
// expires EnrollIdle after the box last asked (a pending box asks every
// poll_every, 30 s by default), never later than EnrollTTL after it
// first asked. A flood from one /64 holds at most MaxPendingPerPrefix
// requests, one from a /48 at most MaxPendingPer48, one from a /32 (or an
// IPv4 /16) at most MaxPendingPer32, each for at most EnrollIdle after it
// stops; none of them reaches MaxPendingEnrollments, so boxes from other
// networks still get in.
const (
	MaxPendingPerPrefix = 16
	MaxPendingPer48     = 64
	MaxPendingPer32     = 256
	EnrollIdle          = time.Hour
)

// prefixLevel is one network size requests are counted under: its cap of
// pending requests and its rate limit.
type prefixLevel struct {
	bits    int
	pending int
	rate    rate.Limit // requests a second
	burst   int
}

var (
	levels4 = []prefixLevel{{24, MaxPendingPerPrefix, 1, 10}, {16, MaxPendingPer32, 5, 40}}
	levels6 = []prefixLevel{{64, MaxPendingPerPrefix, 1, 10}, {48, MaxPendingPer48, 2, 20}, {32, MaxPendingPer32, 5, 40}}
)

// sourceNets are the networks src is counted under, narrowest first,
// with their levels; what does not parse as an address is one network
// of its own under the narrowest level.
func sourceNets(src string) ([]string, []prefixLevel) {
	ip, err := netip.ParseAddr(src)
	if err != nil {
		return []string{src}, levels6[:1]
	}
	ip = ip.Unmap().WithZone("")
	ls := levels6
	if ip.Is4() {
		ls = levels4
	}
	nets := make([]string, len(ls))
	for i, l := range ls {
		p, _ := ip.Prefix(l.bits)
		nets[i] = p.String()
	}
	return nets, ls
}

// prefixFull reports the first of src's networks (narrowest first)
// whose pending requests (sources: their addresses) reached its cap,
// with the count.
func prefixFull(sources []string, src string) (network string, n int, full bool) {
	nets, ls := sourceNets(src)
	counts := make([]int, len(nets))
	for _, s := range sources {
		sn, _ := sourceNets(s)
		for i := range nets {
			if i < len(sn) && sn[i] == nets[i] {
				counts[i]++
			}
		}
	}
	for i, l := range ls {
		if counts[i] >= l.pending {
			return nets[i], counts[i], true
		}
	}
	return "", 0, false
}

// RefuseEnrollPrefix: the source's network has MaxPendingPerPrefix
// requests pending.
const RefuseEnrollPrefix = "too many enrollment requests pending from this network: try again later"

// sourcePrefix is the narrowest network an address is counted under:
// its /24 for IPv4 (IPv4-mapped IPv6 included), its /64 for IPv6; what
// does not parse as an address is counted as itself.
func sourcePrefix(src string) string {
	nets, _ := sourceNets(src)
	return nets[0]
}

// enrollExpiry is when a request asked at now expires: EnrollIdle later,
// but never after EnrollTTL from its first request.
func enrollExpiry(requested, now time.Time) time.Time {
	if end := requested.Add(EnrollTTL); end.Before(now.Add(EnrollIdle)) {
		return end
	}
	return now.Add(EnrollIdle)
}

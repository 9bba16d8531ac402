package audio

import (
	"cmp"
	"slices"
	"time"
)

// SSRCDir names a stream by SSRC and direction, as a box's index entry
// lists them.
type SSRCDir struct {
	SSRC uint32
	Left bool // caller to callee
}

// StreamStat is what the box counted of one stream.
type StreamStat struct {
	SSRCDir
	First, Last time.Time
	Packets     uint64
}

// overlapSlack: a stream that replaces another (a new SSRC after a
// re-INVITE, hold music, a transfer) may start this much before the old
// one's last packet and still count as following it; one that lies
// within another's time is never kept beside it.
const overlapSlack = time.Second

// Explained picks the streams a call's audio is made of: per direction,
// streams one after the other, never two at once. Where streams overlap,
// the one that started first (the one the SDP's media latched to: a
// spoofer injects into a call already running) is kept, ties going to
// the one with more packets. What is left out is still in the pcap export
// and counted as an anomaly on the call; it is not mixed into the audio,
// where random SSRCs would add noise and stretch the call.
func Explained(stats []StreamStat) map[SSRCDir]bool {
	keep := map[SSRCDir]bool{}
	for _, left := range []bool{true, false} {
		var dir []StreamStat
		for _, s := range stats {
			if s.Left == left && s.Packets > 0 {
				dir = append(dir, s)
			}
		}
		slices.SortStableFunc(dir, func(a, b StreamStat) int {
			if c := a.First.Compare(b.First); c != 0 {
				return c
			}
			return cmp.Compare(b.Packets, a.Packets)
		})
		var kept []StreamStat
		for _, s := range dir {
			ok := true
			for _, k := range kept {
				inside := !s.First.Before(k.First) && !s.Last.After(k.Last)
				overlap := minTime(s.Last, k.Last).Sub(maxTime(s.First, k.First))
				if inside || overlap > overlapSlack {
					ok = false
					break
				}
			}
			if ok {
				kept = append(kept, s)
				keep[s.SSRCDir] = true
			}
		}
	}
	return keep
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

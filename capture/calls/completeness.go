package calls

import (
	"github.com/spanvault/spanvault/capture/rtcp"
	"github.com/spanvault/spanvault/record"
)

// rtcpSeen is what a stream's RTCP said, as the box saw it pass.
type rtcpSeen struct {
	srs       uint64 // sender reports on the stream
	srPackets uint32 // the sender's packet count in the last one
	// srLead is the fewest packets any sender report counted beyond the
	// span the box had seen when it passed: the packets sent before the
	// first the box saw (the packets still in flight, or missing at the
	// end, add to it on some reports but not on all).
	srLead int64
	rrs    uint64 // reception reports on the stream
	// The last reception report, and the last one whose range the box
	// had captured to its end when it passed (with what the box's
	// sequence numbers spanned up to its highest, and the distinct
	// packets captured of those). A report that overtakes the stream's
	// last packets (they are still in another ring, or never came) is
	// weighed when the call ends.
	last rrSeen
	snap rrSeen
}

type rrSeen struct {
	lost    int32
	highest uint32
	expect  int64
	got     int64
	weighed bool
}

// rtcpReports reads a compound RTCP packet that flow f carried in call c
// and notes, on the call's streams, what its sender and reception reports
// say. A sender report travels with its stream (same direction); a
// reception report describes the stream coming the other way. Reports on
// SSRCs the call has no stream for are ignored. It allocates nothing.
func (t *Tracker) rtcpReports(c *Call, f *flow, b []byte) {
	r := rtcp.NewReader(b)
	var p rtcp.Packet
	for {
		ok, err := r.Next(&p)
		if !ok || err != nil {
			return
		}
		if p.Type == rtcp.TypeSR {
			if s := c.streamBySSRC(p.SSRC, f.dir); s != nil {
				lead := max(0, int64(p.Sender.PacketCount)-s.Stats.Expected())
				if s.rtcp.srs == 0 || lead < s.rtcp.srLead {
					s.rtcp.srLead = lead
				}
				s.rtcp.srs++
				s.rtcp.srPackets = p.Sender.PacketCount
			}
		}
		for i := 0; i < p.Blocks(); i++ {
			blk := p.Block(i)
			s := c.streamBySSRC(blk.SSRC, 1-f.dir)
			if s == nil {
				continue
			}
			s.rtcp.rrs++
			s.rtcp.last = rrSeen{lost: blk.CumulativeLost, highest: blk.HighestSeq}
			if s.Stats.Reached(uint16(blk.HighestSeq)) {
				s.rtcp.last.expect, s.rtcp.last.got, s.rtcp.last.weighed = s.Stats.Upto(uint16(blk.HighestSeq))
				if s.rtcp.last.weighed {
					s.rtcp.snap = s.rtcp.last
				}
			}
		}
	}
}

// streamBySSRC returns the call's stream of ssrc flowing in direction d.
func (c *Call) streamBySSRC(ssrc uint32, d Dir) *Stream {
	for _, s := range c.Streams {
		if s.Stats.SSRC == ssrc && s.Dir == d {
			return s
		}
	}
	return nil
}

// Completeness returns the stream's completeness record: what its
// sequence numbers and RTCP reports say was expected, what was captured,
// and whose loss each missing packet was (the package doc gives the
// argument).
func (s *Stream) Completeness() record.StreamCompleteness {
	st := &s.Stats
	out := record.StreamCompleteness{ExpectedSeq: st.Expected(), Captured: st.Distinct()}
	// span counts from the first sequence number the box saw to the
	// highest anyone shows was sent: the box, the receiver's last report,
	// the sender's last count (less the packets before the box's first).
	span := out.ExpectedSeq
	var lead int64
	if s.rtcp.srs > 0 {
		lead = s.rtcp.srLead
		out.SenderReports = s.rtcp.srs
		out.SenderPackets = s.rtcp.srPackets
		out.ExpectedSR = max(out.ExpectedSeq+lead, int64(s.rtcp.srPackets))
		span = max(span, out.ExpectedSR-lead)
	}
	var covered, rl int64
	if s.rtcp.rrs > 0 {
		rr := s.rtcp.last
		if !rr.weighed {
			// Weighed now, at the call's end: what the receiver had and
			// the box has not by now, it never will.
			rr.expect, rr.got, rr.weighed = st.Upto(uint16(rr.highest))
		}
		if !rr.weighed {
			rr = s.rtcp.snap
		}
		out.ReceiverReports = s.rtcp.rrs
		out.ReceiverLost = int64(s.rtcp.last.lost)
		out.ReceiverHighestSeq = s.rtcp.last.highest
		if rr.weighed {
			span = max(span, rr.expect)
			covered = min(max(0, span-out.Captured), max(0, rr.expect-rr.got))
			rl = max(0, int64(rr.lost))
		}
	}
	net := min(rl, covered)
	out.LostNetwork = lead + net
	out.LostCapture = covered - net
	out.LostAfterMirror = rl - net
	out.Unattributed = max(0, span-out.Captured) - covered
	return out
}

// Completeness sums the completeness records of the call's streams.
func (c *Call) Completeness() record.Completeness {
	var sum record.Completeness
	for _, s := range c.Streams {
		cs := s.Completeness()
		sum.Add(&cs)
	}
	return sum
}

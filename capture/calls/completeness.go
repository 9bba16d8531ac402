package calls

import (
	"github.com/spanvault/spanvault/capture/rtcp"
	"github.com/spanvault/spanvault/record"
)

// rtcpSeen is what a stream's RTCP said, as the box saw it pass.
type rtcpSeen struct {
	srs       uint64 // sender reports on the stream
	srPackets uint32 // the sender's packet count in the last one
	srExpect  int64  // the stream's Expected() when it passed
	rrs       uint64 // reception reports on the stream
	rrLost    int32  // cumulative lost in the last one
	rrHighest uint32 // extended highest sequence number in the last one
	rrExpect  int64  // what our sequence numbers spanned up to rrHighest when it passed
	rrGot     int64  // the distinct packets we had captured of those
	rrKnown   bool   // rrExpect and rrGot could be worked out
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
				s.rtcp.srs++
				s.rtcp.srPackets = p.Sender.PacketCount
				s.rtcp.srExpect = s.Stats.Expected()
			}
		}
		for i := 0; i < p.Blocks(); i++ {
			blk := p.Block(i)
			s := c.streamBySSRC(blk.SSRC, 1-f.dir)
			if s == nil {
				continue
			}
			s.rtcp.rrs++
			s.rtcp.rrLost = blk.CumulativeLost
			s.rtcp.rrHighest = blk.HighestSeq
			s.rtcp.rrExpect, s.rtcp.rrGot, s.rtcp.rrKnown = s.Stats.Upto(uint16(blk.HighestSeq))
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
	gap := max(0, out.ExpectedSeq-out.Captured)
	var lead int64
	if s.rtcp.srs > 0 {
		out.SenderReports = s.rtcp.srs
		out.SenderPackets = s.rtcp.srPackets
		lead = max(0, int64(s.rtcp.srPackets)-s.rtcp.srExpect)
		out.ExpectedSR = out.ExpectedSeq + lead
	}
	out.LostNetwork = lead
	out.Unattributed = gap
	if s.rtcp.rrs > 0 {
		out.ReceiverReports = s.rtcp.rrs
		out.ReceiverLost = int64(s.rtcp.rrLost)
		out.ReceiverHighestSeq = s.rtcp.rrHighest
		if s.rtcp.rrKnown {
			covered := min(gap, max(0, s.rtcp.rrExpect-s.rtcp.rrGot))
			rl := max(0, out.ReceiverLost)
			net := min(rl, covered)
			out.LostNetwork += net
			out.LostCapture = covered - net
			out.LostAfterMirror = rl - net
			out.Unattributed = gap - covered
		}
	}
	return out
}

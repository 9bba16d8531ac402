package calls

import (
	"fmt"
	"net/netip"

	"github.com/spanvault/spanvault/capture/decode"
)

// A call's signalling explains an RTP stream when it comes from where the
// sending party is known to be: an address the party's SDP names (its
// host: a sender may use another port of it, sipp's rtp_stream sends
// every call from one), the address the party signals from (NAT: SDP
// with a private address, media from the public one), the party's NAT
// source the other party latched to (the destination of the other
// direction's explained media), or the source of a stream of the party
// already explained. Only explained streams are the call's Streams: their
// slots are reserved (MaxStreamsPerCall counts them alone) and only they
// carry the call's audio and DTMF, whatever arrived first.
//
// Everything else towards the call's ports is unexplained (spoofed RTP
// from a foreign address, or the media of a party behind a NAT the
// signalling does not show): counted on the call as anomalies, stored
// only up to MaxUnexplainedStored packets per call, and never with the
// SSRC of an explained stream of the same direction (the audio is chosen
// by SSRC and direction, so such a packet could be mixed in). One
// exception keeps NAT calls whole: when a direction has no explained
// stream and exactly one unexplained one was ever seen in it, that one
// is taken as the party's NAT source once it has shown itself to be
// the party's media: minPromote packets whose sequence numbers advance
// (few duplicates, losses or reorderings), in payload types the SDPs
// negotiated. A spray of several SSRCs is never promoted: under it a
// NAT'd party whose address no signalling shows stays unexplained.

// minPromote is the packets an unexplained stream must show in sequence
// before it is taken as a NAT'd party's media.
const minPromote = 8

// explainScore ranks how well c's signalling explains media from src
// flowing in direction d: 3 an address and port the sending party's SDP
// names, or its latched NAT source; 2 the host its SDP names or the
// source of one of its explained streams; 1 the host it signals from;
// 0 not at all.
func (c *Call) explainScore(d Dir, src netip.AddrPort) int {
	score := 0
	for _, e := range c.endpoints {
		// Media toward e flows toward e's side: the party that sends in
		// direction d advertised endpoints whose side is the other one.
		if e.side == d {
			continue
		}
		if e.ep == src {
			return 3
		}
		if e.ep.Addr() == src.Addr() {
			score = 2
		}
	}
	if c.natSrc[d] == src {
		return 3
	}
	for _, f := range c.flows {
		// Symmetric RTP: the other party sends to where this one's media
		// comes from.
		if f.dir != d && f.key.dst == src && f.explained() {
			return 3
		}
	}
	if score == 2 {
		return 2
	}
	for _, s := range c.Streams {
		if s.Dir == d && s.Src.Addr() == src.Addr() {
			return 2
		}
	}
	sig := c.Caller
	if d == BtoA {
		sig = c.Callee
	}
	if sig.IsValid() && sig.Addr() == src.Addr() {
		return 1
	}
	return 0
}

// weakClaim reports whether a new flow's best owner o (the media flows in
// direction d, explain its explainScore) should wait for the hold window
// before the flow is given to it: o's signalling does not explain the
// source beyond its signalling host, the party that would send it gave
// no SDP at all (a one-sided dialog: an INVITE and nothing else) and o
// has no explained audio in that direction yet. An SDP bomb naming a
// callee's port, seen before the callee's own 200 OK (the rings deliver
// out of order), would otherwise get the caller's first packets; held,
// they go to the call whose SDP then explains them, or to o after the
// window. Spoofed RTP into a call whose two sides gave their SDPs is not
// held: it is that call's, unexplained.
func (t *Tracker) weakClaim(o *epOwner, explain int, d Dir) bool {
	if explain >= 2 || !o.rtp || t.cfg.MaxHeldMedia < 0 || o.call.explainedIn(d) {
		return false
	}
	for _, e := range o.call.endpoints {
		if e.side != d {
			return false // the sending party's SDP was seen
		}
	}
	return true
}

// relatch returns c's earlier flow of the 5-tuple k in direction d, when
// another dialog's SDP naming one of its addresses had made the tracker
// forget it (see register) and it comes back to c: the flow keeps its
// number, so the audio renders it as the one stream it is, and a flood
// of SDPs naming the address does not grow c's flows.
func (c *Call) relatch(k flowKey, d Dir, bySource bool) *flow {
	if bySource {
		return nil
	}
	for _, f := range c.flows {
		if f.key == k && f.dir == d && !f.bySource {
			return f
		}
	}
	return nil
}

// explained reports whether the flow carries an explained stream.
func (f *flow) explained() bool {
	for _, s := range f.streams {
		if !s.foreign {
			return true
		}
	}
	return false
}

// explainedIn reports whether c has an explained stream in direction d.
func (c *Call) explainedIn(d Dir) bool {
	for _, s := range c.Streams {
		if s.Dir == d {
			return true
		}
	}
	return false
}

// explainedSSRC reports whether an explained stream of direction d has
// the given SSRC.
func (c *Call) explainedSSRC(d Dir, ssrc uint32) bool {
	for _, s := range c.Streams {
		if s.Dir == d && s.Stats.SSRC == ssrc {
			return true
		}
	}
	return false
}

// unexplained accounts one RTP packet that c's signalling does not
// explain (s is its stream, nil beyond the stream bound) and reports
// whether it may be stored.
func (t *Tracker) unexplained(c *Call, s *Stream, d Dir, p *decode.Packet, h *rtpHeader) bool {
	if c.Unexplained == 0 {
		c.unexplainedEvent = len(c.Events)
		c.Events = append(c.Events, Event{Time: p.Time, Kind: EventAnomaly})
	}
	c.Unexplained++
	c.Anomalies++
	t.Stats.Anomalies++
	t.Stats.Unexplained++
	if s != nil {
		s.countPT(h.pt)
		s.Stats.Add(p.Time, h.seq, h.ts, h.end-h.len, 0)
		if t.promote(c, s, d) {
			return true
		}
	}
	if c.unexplainedStored >= t.cfg.MaxUnexplainedStored || c.explainedSSRC(d, h.ssrc) {
		t.Stats.UnexplainedNotStored++
		return false
	}
	c.unexplainedStored++
	return true
}

// promote takes an unexplained stream as its party's media behind a NAT
// when it is the only candidate (see the comment at the top of the file).
func (t *Tracker) promote(c *Call, s *Stream, d Dir) bool {
	st := &s.Stats
	// Sequence numbers that advance (a constant or random field would
	// not), a loss or a reordering here and there.
	n := int64(st.Packets)
	if n < minPromote || st.Duplicates*8 > st.Packets || st.OutOfOrder*8 > st.Packets || st.Expected() > n+n/4 {
		return false
	}
	if c.explainedIn(d) || len(c.Streams) >= t.cfg.MaxStreamsPerCall || !c.negotiated(s) {
		return false
	}
	for _, o := range c.foreign {
		if o != s && o.Dir == d {
			return false
		}
	}
	if c.foreignMore[d] {
		return false
	}
	s.foreign = false
	c.natSrc[d] = s.Src
	c.Streams = append(c.Streams, s)
	for i, o := range c.foreign {
		if o == s {
			c.foreign = append(c.foreign[:i], c.foreign[i+1:]...)
			break
		}
	}
	c.Events = append(c.Events, Event{Time: s.Stats.Last, Kind: EventNATSource,
		Detail: fmt.Sprintf("media %s from %s, an address no signalling named, taken as the party's NAT source (the only such stream, in sequence)", d, s.Src)})
	return true
}

// negotiated reports whether every payload type s carried is one the
// call's SDPs named (or comfort noise, which SDPs often leave out).
func (c *Call) negotiated(s *Stream) bool {
	for _, p := range s.PayloadTypes {
		if p.PT != 13 && c.codecs[AtoB][p.PT] == "" && c.codecs[BtoA][p.PT] == "" {
			return false
		}
	}
	return len(s.PayloadTypes) > 0
}

// foreignStream finds or makes the unexplained stream of a packet (nil
// beyond the stream bound: the packet is counted without one).
func (t *Tracker) foreignStream(c *Call, f *flow, p *decode.Packet, h *rtpHeader) *Stream {
	for _, s := range c.foreign {
		if s.Dir == f.dir && s.Stats.SSRC == h.ssrc && s.Src == p.Src {
			f.streams = append(f.streams, s)
			return s
		}
	}
	if len(c.foreign) >= t.cfg.MaxStreamsPerCall {
		c.foreignMore[f.dir] = true
		return nil
	}
	s := &Stream{Src: p.Src, Dst: p.Dst, Dir: f.dir, Flow: f.id, PT: h.pt, foreign: true}
	s.Stats.SSRC = h.ssrc
	s.Codec = c.codecName(f.dir, h.pt)
	s.Stats.ClockRate = c.clockRate(f.dir, h.pt)
	f.streams = append(f.streams, s)
	c.foreign = append(c.foreign, s)
	return s
}

// DefaultMaxUnexplainedStored is the default of
// Config.MaxUnexplainedStored: enough to show an auditor what was sprayed
// at a call, not enough to fill a recording with it.
const DefaultMaxUnexplainedStored = 32

// explainDone writes the count of a call's unexplained packets into its
// anomaly event, when the call ends.
func (t *Tracker) explainDone(c *Call) {
	if c.Unexplained == 0 || c.unexplainedEvent >= len(c.Events) || c.Events[c.unexplainedEvent].Kind != EventAnomaly {
		return
	}
	srcs := len(c.foreign)
	more := ""
	if c.foreignMore[AtoB] || c.foreignMore[BtoA] {
		more = " or more"
	}
	c.Events[c.unexplainedEvent].Detail = fmt.Sprintf("%d RTP packets in %d%s streams from sources the call's signalling does not explain (spoofed RTP?): kept out of the audio and DTMF, %d of them stored (bound %d)",
		c.Unexplained, srcs, more, c.unexplainedStored, max(t.cfg.MaxUnexplainedStored, 0))
}

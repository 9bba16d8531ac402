package calls

// Per-packet media: a packet's flow, its RTP stream, its statistics.

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"time"

	"github.com/spanvault/spanvault/capture/decode"
	"github.com/spanvault/spanvault/capture/rtphdr"
	"github.com/spanvault/spanvault/capture/rtpstream"
	"github.com/spanvault/spanvault/capture/sdp"
)

// Media handles a UDP packet that is not SIP. It reports whether the packet
// belonged to a call.
func (t *Tracker) Media(p *decode.Packet) bool {
	t.tick(p.Time)
	if t.held.n > 0 {
		t.expireHeld(t.now)
	}
	return t.media(p)
}

// media is Media without the clock: replayed packets come through here.
func (t *Tracker) media(p *decode.Packet) bool {
	k := flowKey{p.Src, p.Dst}
	f := t.flows[k]
	if f == nil {
		f = t.associate(k, false)
		if f == nil {
			if at, ok := t.ended[k]; ok && p.Time.Sub(at) < t.cfg.HoldWindow {
				t.Stats.LateMedia++
				t.unassociated(p, k)
				return false
			}
			if t.holdMedia(p) {
				return false
			}
			if f = t.associate(k, true); f == nil {
				t.unassociated(p, k)
				return false
			}
		}
	}
	c := f.call
	seen := c.lastSeen
	c.lastSeen = p.Time
	t.Stats.MediaPackets++
	pl := p.Payload
	kind := KindRTP
	hdr := p.HeaderLen
	isRTCP := f.rtcp || (len(pl) >= 2 && pl[0]>>6 == 2 && pl[1] >= 192 && pl[1] <= 223)
	switch {
	case isRTCP:
		kind = KindRTCP
		c.RTCPPackets++
		t.rtcpReports(c, f, pl)
	case f.rtp || f.knownSSRC(pl):
		var h rtpHeader
		if h.parse(pl) {
			hdr += h.len
			store, explained := t.rtp(c, f, p, &h)
			if !explained {
				// Spoofed RTP keeps no call alive.
				c.lastSeen = seen
			}
			if !store {
				return true
			}
			if !explained {
				break
			}
			c.lastMedia[f.dir] = p.Time
			if c.firstMedia[f.dir].IsZero() {
				c.firstMedia[f.dir] = p.Time
				if c.unans != nil && c.State.Answered() && c.confirmed() {
					// A call first seen mid-dialog, confirmed by media
					// both ways: protected from eviction from now on.
					t.unanswered.Remove(c.unans)
					c.unans = nil
				}
			}
		}
	default:
		c.lastMedia[f.dir] = p.Time
		if c.firstMedia[f.dir].IsZero() {
			c.firstMedia[f.dir] = p.Time
		}
	}
	if !t.storeMedia(c, f.dir, p.Time) {
		t.Stats.MediaNotStored++
		return true
	}
	fr := &t.frame
	*fr = Frame{Time: p.Time, Data: p.Frame, LinkType: p.LinkType, HeaderLen: hdr, Kind: kind, Dir: f.dir, Flow: f.id}
	for i := range p.Fragments {
		ff := Frame{Time: p.Fragments[i].Time, Data: p.Fragments[i].Frame, LinkType: p.LinkType, Kind: kind, Dir: f.dir, Flow: f.id}
		t.write(c, &ff, false)
	}
	t.write(c, fr, false)
	return true
}

// knownSSRC reports whether b looks like an RTP packet of a stream the flow
// already carries: a re-offer to T.38 that the far end rejects leaves the
// audio running, and the packets themselves say so.
func (f *flow) knownSSRC(b []byte) bool {
	if len(b) < 12 || b[0]>>6 != 2 {
		return false
	}
	ssrc := binary.BigEndian.Uint32(b[8:12])
	for _, s := range f.streams {
		if s.Stats.SSRC == ssrc {
			return true
		}
	}
	return false
}

func (t *Tracker) storeMedia(c *Call, d Dir, at time.Time) bool {
	if !c.Policy.Record || c.pausedAt(at) {
		return false
	}
	// Consent, like a pause, applies by capture time.
	if c.Policy.AgentOnly && d != c.Policy.AgentSide && (!c.Consented || at.Before(c.consentAt)) {
		return false
	}
	return true
}

type rtpHeader struct {
	pt     uint8
	marker bool
	seq    uint16
	ts     uint32
	ssrc   uint32
	len    int // where the payload starts
	end    int // where it ends (padding left out)
}

// parse reads an RTP header (capture/rtphdr, without allocating: the
// tracker runs it on every UDP packet).
func (h *rtpHeader) parse(b []byte) bool {
	var x rtphdr.Header
	if !x.Parse(b) {
		return false
	}
	h.marker, h.pt, h.seq, h.ts, h.ssrc = x.Marker, x.PayloadType, x.Seq, x.Timestamp, x.SSRC
	h.len, h.end = x.Len, x.PayloadEnd
	return true
}

// rtp accounts one RTP packet of flow f; it reports whether the packet
// may be stored and whether the call's signalling explains it.
func (t *Tracker) rtp(c *Call, f *flow, p *decode.Packet, h *rtpHeader) (store, explained bool) {
	var s *Stream
	for _, st := range f.streams {
		if st.Stats.SSRC == h.ssrc {
			s = st
			break
		}
	}
	if s != nil && s.foreign {
		return t.unexplained(c, s, f.dir, p, h), !s.foreign
	}
	if s == nil {
		// One stream per SSRC and direction in a call, whatever flows
		// carry it: media that moves to another port of the same host (a
		// re-INVITE, a NAT rebinding) continues its stream, statistics and
		// all. Another host with the same SSRC (a forked early dialog) or
		// a copy of the stream (sequence numbers already seen) stays apart.
		for _, st := range c.Streams {
			if st.Dir == f.dir && st.Stats.SSRC == h.ssrc && st.Src.Addr() == p.Src.Addr() && st.Stats.Continues(h.seq) {
				s = st
				f.streams = append(f.streams, s)
				break
			}
		}
	}
	if s == nil && c.explainScore(f.dir, p.Src) == 0 {
		s = t.foreignStream(c, f, p, h)
		return t.unexplained(c, s, f.dir, p, h), s != nil && !s.foreign
	}
	if s == nil && len(c.Streams) >= t.cfg.MaxStreamsPerCall {
		// Spoofed RTP into a live port: the packet stays in the
		// recording (pcap export), flagged; no stream is grown for it.
		if c.Anomalies == 0 {
			c.Events = append(c.Events, Event{Time: p.Time, Kind: EventAnomaly, Detail: fmt.Sprintf("more than %d RTP streams on one call: extra SSRCs not tracked (spoofed RTP?)", t.cfg.MaxStreamsPerCall)})
		}
		c.Anomalies++
		t.Stats.Anomalies++
		return true, true
	}
	if s == nil {
		s = &Stream{Src: p.Src, Dst: p.Dst, Dir: f.dir, Flow: f.id, PT: h.pt}
		s.Stats.SSRC = h.ssrc
		s.Codec = c.codecName(f.dir, h.pt)
		s.Stats.ClockRate = c.clockRate(f.dir, h.pt)
		f.streams = append(f.streams, s)
		c.Streams = append(c.Streams, s)
	}
	n := s.countPT(h.pt)
	payload := p.Payload[h.len:h.end]
	if c.isEvent(f.dir, h.pt) {
		t.dtmf(c, f.dir, h, payload, p.Time)
	} else if s.PT != h.pt && n > s.Packets(s.PT) {
		// The main payload type is the most frequent one.
		s.PT = h.pt
		s.Codec = c.codecName(f.dir, h.pt)
	}
	var fl rtpstream.Flags
	if h.marker {
		fl |= rtpstream.Marker
	}
	if h.pt == 13 {
		fl |= rtpstream.ComfortNoise
	}
	s.Stats.Add(p.Time, h.seq, h.ts, len(payload), fl)
	return true, true
}

func (c *Call) codecName(d Dir, pt uint8) string {
	if n := c.codecs[d][pt]; n != "" {
		return n
	}
	if n := c.codecs[1-d][pt]; n != "" {
		return n
	}
	if f, ok := sdp.Static(pt); ok {
		return f.Name
	}
	return "PT" + strconv.Itoa(int(pt))
}

func (c *Call) clockRate(d Dir, pt uint8) int {
	if r := c.rates[d][pt]; r > 0 {
		return r
	}
	if r := c.rates[1-d][pt]; r > 0 {
		return r
	}
	if f, ok := sdp.Static(pt); ok {
		return f.Rate
	}
	return 8000
}

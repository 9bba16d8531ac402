package calls

// The flow table: which call a media flow belongs to. It owns the maps
// from SDP-advertised addresses to calls and from packet flows to calls.

import (
	"net/netip"
	"time"
)

// maxEndedFlows bounds the flows of ended calls remembered at once.
const maxEndedFlows = 1 << 16

// flowTable owns the media-association maps: the addresses each call's
// SDP advertised, the flows latched to a call, the flows given to a call
// by their source, and the flows of calls that just ended. The Tracker
// embeds it; the rules that fill it (register, associate) are the
// Tracker's, since they weigh the calls' signalling.
type flowTable struct {
	endpoints map[netip.AddrPort][]epOwner
	flows     map[flowKey]*flow
	bySource  map[netip.AddrPort][]*flow // flows given by their source, by destination
	// ended remembers the flows of calls that just ended, until the hold
	// window passes: a sender's last packets after the BYE are late media
	// of that call, not media to hold for an SDP to come (and never to be
	// given to another call by their source).
	ended     map[flowKey]time.Time
	endedScan time.Time
}

func newFlowTable() flowTable {
	return flowTable{
		endpoints: make(map[netip.AddrPort][]epOwner),
		flows:     make(map[flowKey]*flow),
		bySource:  make(map[netip.AddrPort][]*flow),
		ended:     make(map[flowKey]time.Time),
	}
}

type flowKey struct{ src, dst netip.AddrPort }

type flow struct {
	key     flowKey
	call    *Call
	dir     Dir
	id      uint16
	rtp     bool // audio RTP; false for RTCP or non-RTP media (T.38 UDPTL)
	rtcp    bool
	streams []*Stream
	// bySource: given to its call because the call's SDP names the
	// flow's source, no SDP naming its destination (see associate); it
	// moves to the first call whose SDP then names that destination.
	bySource bool
}

type epOwner struct {
	call *Call
	side Dir
	rtp  bool
	rtcp bool
	// contested: the address was claimed while a live call with two-way
	// media held it. Such an owner gets new flows only when no other
	// owner names the address (the live call ended): a hijacker's dialog
	// takes neither the live call's flows nor new ones (spoofed RTP from
	// a new source, which belongs on the victim as an anomaly).
	contested bool
}

// register notes that media sent to ep belongs to call c and flows toward
// the side that advertised it.
func (t *Tracker) register(c *Call, ep netip.AddrPort, side Dir, rtp, rtcp bool) {
	if len(t.bySource[ep]) > 0 {
		t.releaseBySource(c, ep)
	}
	owners := t.endpoints[ep]
	for i, o := range owners {
		if o.call == c {
			owners[i].side, owners[i].rtp, owners[i].rtcp = side, rtp, rtcp
			// A re-offer can change what the port carries (audio to T.38
			// fax and back): flows already latched there follow it.
			for _, f := range c.flows {
				if f.key.dst == ep {
					f.rtp, f.rtcp = rtp, rtcp
				}
			}
			return
		}
	}
	// Another call advertised the same address. Ports reused by
	// sequential calls: forget the flows the old one latched there, so
	// that new packets are associated afresh with the newest offer. But a
	// live call with media in both directions keeps its flows until it
	// ends or its own dialog moves the media: two spoofed packets (an
	// INVITE and a 200 whose SDPs name a live call's endpoints) must not
	// steal its audio. The competing claim is an event on both calls.
	contested := false
	for _, o := range owners {
		if o.call.mediaBothWays() && o.call.finalAt.IsZero() && o.call.byeAt.IsZero() {
			contested = true
			t.Stats.MediaClaimsRefused++
			detail := "another dialog's SDP named this call's media address " + ep.String()
			o.call.Events = append(o.call.Events, Event{Time: t.now, Kind: EventMediaClaim, Detail: detail})
			c.Events = append(c.Events, Event{Time: t.now, Kind: EventMediaClaim, Detail: "this dialog's SDP names the media address of a live call; its flows stay with it"})
			continue
		}
		for _, f := range o.call.flows {
			if f.key.src == ep || f.key.dst == ep {
				delete(t.flows, f.key)
			}
		}
	}
	t.endpoints[ep] = append(owners, epOwner{call: c, side: side, rtp: rtp, rtcp: rtcp, contested: contested})
	c.endpoints = append(c.endpoints, epRef{ep: ep, side: side})
	t.noteEndpoint(ep)
}

// associate finds the call a new media flow belongs to: the call whose
// SDP names its destination (a call whose signalling explains the source
// beats one that does not, see explainScore; the newest offer wins among
// equals; without bySource, a one-sided dialog that does not explain the
// source is not given the flow yet, see weakClaim); with bySource, also the call whose SDP names its source (the
// NAT case, where the far end sends to an address no SDP named). The
// source rule is the weaker one: a sender that uses one port for many
// calls (a media server, sipp's rtp_stream) names one call's address as
// the source of every call's media, so it is tried only once a packet was
// held for the hold window without an SDP naming its destination (media
// before its SDP, on another fanout ring, would otherwise latch to the
// wrong call for good).
func (t *Tracker) associate(k flowKey, bySource bool) *flow {
	var best *epOwner
	bestScore, bestExplain := 0, 0
	var dir Dir
	fromSource := false
	owners := t.endpoints[k.dst]
	for i := len(owners) - 1; i >= 0; i-- {
		o := &owners[i]
		// A contested claim never beats an uncontested one; among the
		// rest, the call whose signalling explains the source wins (an
		// SDP bomb naming a call's port is not its sender's dialog), then
		// an answered, confirmed call (spoofed RTP belongs on the call it
		// was aimed at, not on a bomb naming its port), then the newest.
		score := 16
		if o.contested {
			score = 1
		}
		explain := o.call.explainScore(o.side, k.src)
		score += 2 * explain
		if o.call.State.Answered() && o.call.confirmed() {
			score++
		}
		if score > bestScore {
			best, bestScore, bestExplain, dir = o, score, explain, o.side
		}
	}
	if best != nil && !bySource && t.weakClaim(best, bestExplain, dir) {
		return nil // held: the SDP that explains it may be on its way
	}
	if best == nil && bySource {
		owners = t.endpoints[k.src]
		if n := len(owners); n > 0 {
			// The newest owner. Media sent from where side X receives
			// comes from side X.
			o := &owners[n-1]
			best, dir, fromSource = o, 1-o.side, true
		}
	}
	if best == nil {
		return nil
	}
	c := best.call
	if f := c.relatch(k, dir, fromSource); f != nil {
		f.rtp, f.rtcp = best.rtp, best.rtcp
		t.flows[k] = f
		return f
	}
	c.nextFlow++
	f := &flow{key: k, call: c, dir: dir, id: c.nextFlow, rtp: best.rtp, rtcp: best.rtcp, bySource: fromSource}
	c.flows = append(c.flows, f)
	t.flows[k] = f
	if f.bySource {
		t.bySource[k.dst] = append(t.bySource[k.dst], f)
	}
	return f
}

// releaseBySource lets the flows toward ep that were given to another
// call by their source go, now that c's SDP names ep: a media server that
// sends every call's audio from one port makes that port the source of
// call A's SDP and of every call's media, and a call whose SDP was lost
// or came late had its media latched to A. Its next packets go to c; the
// ones before stay where they were recorded, flagged on both calls.
func (t *Tracker) releaseBySource(c *Call, ep netip.AddrPort) {
	for _, f := range t.bySource[ep] {
		if t.flows[f.key] != f || f.call == c {
			continue
		}
		delete(t.flows, f.key)
		t.Stats.MediaMoved++
		f.call.Events = append(f.call.Events, Event{Time: t.now, Kind: EventMediaMoved, Detail: "a media flow given to this call by its source went to the call whose SDP then named its destination"})
		c.Events = append(c.Events, Event{Time: t.now, Kind: EventMediaMoved, Detail: "media to this call before its SDP was recorded on another call (whose SDP names the media's source)"})
	}
	delete(t.bySource, ep)
}

// forgetBySource drops f from the flows given by their source.
func (t *flowTable) forgetBySource(f *flow) {
	fs := t.bySource[f.key.dst]
	for i, g := range fs {
		if g == f {
			fs = append(fs[:i], fs[i+1:]...)
			break
		}
	}
	if len(fs) == 0 {
		delete(t.bySource, f.key.dst)
	} else {
		t.bySource[f.key.dst] = fs
	}
}

// forgetCall drops an ended call's advertised addresses and flows; its
// flows are remembered as ended (at now) for the hold window, up to
// maxEndedFlows of them.
func (t *flowTable) forgetCall(c *Call, now time.Time) {
	for _, e := range c.endpoints {
		owners := t.endpoints[e.ep]
		for i := 0; i < len(owners); i++ {
			if owners[i].call == c {
				owners = append(owners[:i], owners[i+1:]...)
				i--
			}
		}
		if len(owners) == 0 {
			delete(t.endpoints, e.ep)
		} else {
			t.endpoints[e.ep] = owners
		}
	}
	for _, f := range c.flows {
		if f.bySource {
			t.forgetBySource(f)
		}
		if t.flows[f.key] == f {
			delete(t.flows, f.key)
			if len(t.ended) < maxEndedFlows {
				t.ended[f.key] = now
			}
		}
	}
}

// expireEnded forgets the ended flows older than window, scanning at most
// once per window.
func (t *flowTable) expireEnded(now time.Time, window time.Duration) {
	if now.Sub(t.endedScan) < window {
		return
	}
	t.endedScan = now
	for k, at := range t.ended {
		if now.Sub(at) >= window {
			delete(t.ended, k)
		}
	}
}

// mediaBothWays reports whether media was seen in both directions.
func (c *Call) mediaBothWays() bool {
	return !c.firstMedia[AtoB].IsZero() && !c.firstMedia[BtoA].IsZero()
}

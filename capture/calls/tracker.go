package calls

import (
	"container/list"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spanvault/spanvault/capture/decode"
	"github.com/spanvault/spanvault/capture/rtphdr"
	"github.com/spanvault/spanvault/capture/rtpstream"
	"github.com/spanvault/spanvault/capture/sdp"
	"github.com/spanvault/spanvault/capture/sip"
	"github.com/spanvault/spanvault/record"
)

// Recorder stores what the tracker finds. The vault implements it; the
// tracker calls it from its own goroutine only.
type Recorder interface {
	// Start opens the recording of a call whose first media packet has
	// arrived. The SIP frames seen so far follow through Write.
	Start(c *Call) (Recording, error)
	// Detail stores the call detail record of a dialog that never had
	// media stored (rejected, cancelled, unanswered, or not to record).
	Detail(c *Call) error
}

// Recording receives the frames of one call as they arrive.
type Recording interface {
	Write(f *Frame) error
	// Finish seals the recording with the call's final metadata.
	Finish(c *Call) error
}

// ErrDetailKept is wrapped by a Recorder's Start error when it failed after
// storing the call's detail record itself: the tracker then does not call
// Detail for the call (which once left two index entries).
var ErrDetailKept = errors.New("calls: the call's detail record is already kept")

// ErrDetailShed is wrapped by a Recorder's Detail error when it gave the
// record up at a bound it documents (an INVITE flood outrunning the disk):
// counted as shed, not as a recording error.
var ErrDetailShed = errors.New("calls: call detail record shed at the recorder's bound")

// Policy decides, when a call is first seen, whether and how to record it.
type Policy interface {
	Decide(c *Call) Decision
}

// Config tunes the tracker. Zero fields take the defaults below.
type Config struct {
	// MediaTimeout ends an answered call when neither SIP nor media has
	// been seen for this long (a call that ends without BYE).
	MediaTimeout time.Duration
	// DialogTimeout ends a dialog that got no final response.
	DialogTimeout time.Duration
	// Linger keeps a dialog after its final state (BYE, rejection) to
	// collect retransmissions, the 200 to the BYE and trailing RTP.
	Linger time.Duration
	// MediaStoppedGap: media that stopped this long before the BYE is
	// reported as a gap.
	MediaStoppedGap time.Duration
	// MaxCalls bounds the dialogs held at once; beyond it the oldest
	// unanswered dialog is ended.
	MaxCalls int
	// MaxUnassociated bounds the RTP flows tracked without a call.
	MaxUnassociated int
	// MaxPendingBytes bounds the SIP bytes held for a call before its
	// media starts; MaxPendingTotal their sum over all calls (INVITEs with
	// 60 KB headers once held 1.8 GB at 5,000 dialogs).
	MaxPendingBytes int
	MaxPendingTotal int
	// HoldWindow is how long (capture time) media that matches no call is
	// held in case the SDP that explains it is still on its way (another
	// capture ring); MaxHeldMedia bounds the packets held (negative: hold
	// nothing).
	HoldWindow   time.Duration
	MaxHeldMedia int
	// MaxStreamsPerCall and MaxEventsPerCall bound what packets can grow
	// on one call (spoofed RTP with random SSRCs, forged DTMF): beyond
	// them packets are still stored but counted as anomalies, not tracked.
	MaxStreamsPerCall int
	MaxEventsPerCall  int
	// MaxUnexplainedStored bounds the RTP packets stored per call from
	// sources the call's signalling does not explain (see explain.go);
	// beyond it they are counted, not stored. Negative: store none.
	MaxUnexplainedStored int
	// LocalNets and Extensions tell which party is local, for the call's
	// direction and for agent-only recording. Extensions are patterns on
	// the user part of From/To: digits, 'x' for any digit, a trailing '*'.
	LocalNets  []netip.Prefix
	Extensions []string
}

func (c *Config) defaults() {
	if c.MediaTimeout <= 0 {
		c.MediaTimeout = 60 * time.Second
	}
	if c.DialogTimeout <= 0 {
		c.DialogTimeout = 180 * time.Second
	}
	if c.Linger <= 0 {
		c.Linger = 5 * time.Second
	}
	if c.MediaStoppedGap <= 0 {
		c.MediaStoppedGap = 10 * time.Second
	}
	if c.MaxCalls <= 0 {
		c.MaxCalls = 20000
	}
	if c.MaxUnassociated <= 0 {
		c.MaxUnassociated = 4096
	}
	if c.MaxPendingBytes <= 0 {
		c.MaxPendingBytes = 256 << 10
	}
	if c.MaxPendingTotal <= 0 {
		c.MaxPendingTotal = 64 << 20
	}
	if c.HoldWindow <= 0 {
		c.HoldWindow = 2 * time.Second
	}
	if c.MaxHeldMedia == 0 {
		c.MaxHeldMedia = 2048
	}
	if c.MaxStreamsPerCall <= 0 {
		c.MaxStreamsPerCall = 16
	}
	if c.MaxEventsPerCall <= 0 {
		c.MaxEventsPerCall = 512
	}
	if c.MaxUnexplainedStored == 0 {
		c.MaxUnexplainedStored = DefaultMaxUnexplainedStored
	}
}

// Stats counts what the tracker did. Fields only grow.
type Stats struct {
	SIPMessages    uint64
	NonCallSIP     uint64 // REGISTER, SUBSCRIBE, OPTIONS, ... outside calls
	Calls          uint64 // INVITE dialogs seen
	CallsRecorded  uint64
	CallsEvicted   uint64 // ended early because MaxCalls was reached
	MediaPackets   uint64 // RTP/RTCP packets associated with a call
	MediaNotStored uint64 // associated but kept out (paused, policy, agent-only)
	Unassociated   uint64 // UDP packets that matched no call
	MediaHeld      uint64 // media held because no SDP explained it yet
	MediaReplayed  uint64 // held media given to a call whose SDP came later
	// MediaMoved counts flows given to a call by their source that moved
	// to the call whose SDP later named their destination.
	MediaMoved uint64
	// MediaClaimsRefused counts SDPs that named the media address of a
	// live call with two-way media (a hijack attempt, or a misconfigured
	// PBX): the live call kept its flows.
	MediaClaimsRefused uint64
	// Anomalies counts packets beyond a call's stream or event bounds,
	// and unexplained RTP.
	Anomalies uint64
	// Unexplained counts RTP packets from sources their call's signalling
	// does not explain; UnexplainedNotStored those of them beyond the
	// per-call bound (counted only).
	Unexplained          uint64
	UnexplainedNotStored uint64
	RecordErrors         uint64
	// DetailsShed counts call detail records the recorder shed at its
	// bound (ErrDetailShed): attack state, not a recording error.
	DetailsShed     uint64
	PendingOverflow uint64
	// LateMedia counts packets of a call's flows after the call ended
	// (within the hold window): not held, not given to another call.
	LateMedia uint64
}

// maxEndedFlows bounds the flows of ended calls remembered at once.
const maxEndedFlows = 1 << 16

// Unassociated is an RTP stream that no call's SDP explains (RTP without
// SIP, or signalling the box never saw).
type Unassociated struct {
	Stream
	confirmed bool
}

type flowKey struct{ src, dst netip.AddrPort }

type unassocKey struct {
	flowKey
	ssrc uint32
}

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

// Tracker follows SIP dialogs and associates media with them. It is not
// safe for concurrent use.
type Tracker struct {
	cfg       Config
	rec       Recorder
	policy    Policy
	calls     map[string]*Call
	endpoints map[netip.AddrPort][]epOwner
	flows     map[flowKey]*flow
	bySource  map[netip.AddrPort][]*flow // flows given by their source, by destination
	// ended remembers the flows of calls that just ended, until the hold
	// window passes: a sender's last packets after the BYE are late media
	// of that call, not media to hold for an SDP to come (and never to be
	// given to another call by their source).
	ended     map[flowKey]time.Time
	endedScan time.Time
	unassoc   map[unassocKey]*Unassociated
	// Done is called with every call when the tracker lets go of it.
	Done func(*Call)
	// Unassoc is called with every confirmed unassociated stream when it
	// expires or at Close.
	UnassocDone func(*Unassociated)
	Stats       Stats

	lastSweep time.Time
	frame     Frame
	now       time.Time
	held      heldRing
	// pendingTotal is the SIP bytes held for all calls before their media.
	pendingTotal int
	// unanswered lists dialogs without a 2xx, least recently seen first:
	// eviction under a flood of INVITEs takes the front in O(1).
	unanswered list.List
}

// NewTracker returns a tracker that records through rec (nil: record
// nothing) with the given policy (nil: record every call, class
// "default").
func NewTracker(cfg Config, rec Recorder, policy Policy) *Tracker {
	cfg.defaults()
	return &Tracker{
		cfg:       cfg,
		rec:       rec,
		policy:    policy,
		calls:     make(map[string]*Call),
		endpoints: make(map[netip.AddrPort][]epOwner),
		flows:     make(map[flowKey]*flow),
		bySource:  make(map[netip.AddrPort][]*flow),
		ended:     make(map[flowKey]time.Time),
		unassoc:   make(map[unassocKey]*Unassociated),
	}
}

// Active returns the number of dialogs held.
func (t *Tracker) Active() int { return len(t.calls) }

// PendingHeld is the SIP bytes held for calls before their media.
func (t *Tracker) PendingHeld() int { return t.pendingTotal }

// Limits is the configuration in force (defaults filled in).
func (t *Tracker) Limits() Config { return t.cfg }

// Calls calls fn for each dialog held, in no particular order.
func (t *Tracker) Calls(fn func(*Call)) {
	for _, c := range t.calls {
		fn(c)
	}
}

// Lookup finds a live call by Call-ID or by an extension of either party.
func (t *Tracker) Lookup(key string) *Call {
	if c := t.calls[key]; c != nil {
		return c
	}
	var found *Call
	for _, c := range t.calls {
		if c.finalAt.IsZero() && (string(sip.User([]byte(c.From))) == key || string(sip.User([]byte(c.To))) == key) {
			if found == nil || c.Start.After(found.Start) {
				found = c
			}
		}
	}
	return found
}

// SetPaused pauses or resumes the storing of a call's media (PCI DSS: card
// numbers spoken or keyed while paused never reach the vault).
//
// The pause applies by capture time, not by the order in which packets are
// processed: a packet captured after the pause began is dropped even if it
// was still waiting in the capture ring when the pause arrived, and one
// captured before it is kept.
func (t *Tracker) SetPaused(c *Call, paused bool, at time.Time) {
	if c.Paused == paused {
		return
	}
	c.Paused = paused
	if paused {
		c.pauses = append(c.pauses, pauseSpan{from: at})
	} else if n := len(c.pauses); n > 0 {
		c.pauses[n-1].to = at
	}
	kind := "resume"
	if paused {
		kind = "pause"
	}
	c.Events = append(c.Events, Event{Time: at, Kind: kind})
}

// SetConsent switches a call recorded one-sided to both sides.
func (t *Tracker) SetConsent(c *Call, at time.Time) {
	if c.Consented {
		return
	}
	c.Consented = true
	c.consentAt = at
	c.Events = append(c.Events, Event{Time: at, Kind: "consent"})
}

// Tag adds a free-text tag (from the CRM) to a call.
func (t *Tracker) Tag(c *Call, tag string, at time.Time) {
	c.Tags = append(c.Tags, tag)
	c.Events = append(c.Events, Event{Time: at, Kind: "tag", Detail: tag})
}

// SIP handles one SIP message. frames are the captured frames that carried
// it (one for UDP; the fragments of a fragmented datagram; the segments of
// a TCP stream).
func (t *Tracker) SIP(m *sip.Message, at time.Time, src, dst netip.AddrPort, transport string, frames []Frame) {
	t.Stats.SIPMessages++
	t.tick(at)
	callID := string(m.CallID)
	c := t.calls[callID]
	isInvite := string(m.Method) == "INVITE" || string(m.CSeqMethod) == "INVITE"
	if c == nil {
		if !isInvite {
			t.Stats.NonCallSIP++
			return
		}
		c = t.newCall(m, at, src, dst, callID)
		if c == nil {
			return
		}
	}
	c.SIPMessages++
	c.lastSeen = at
	if c.Transport == nil {
		c.Transport = map[string]bool{}
	}
	c.Transport[transport] = true
	for i := range frames {
		frames[i].Kind = KindSIP
		t.write(c, &frames[i], true)
	}
	// A request's From names its sender's side; a response flows back
	// to the side that sent the request, so its sender is the other one.
	callerTag := string(m.From.Tag) == c.FromTag
	if c.FromTag == "" {
		callerTag = src == c.Caller || dst == c.Callee
		if !m.IsRequest() {
			callerTag = dst == c.Caller || src == c.Callee
		}
	}
	fromCaller := callerTag
	if !m.IsRequest() {
		fromCaller = !callerTag
	}
	if m.IsRequest() {
		t.request(c, m, at, src, fromCaller)
	} else {
		t.response(c, m, at, src, fromCaller)
	}
	switch {
	case c.unans == nil:
	case c.State.Answered() && c.confirmed():
		t.unanswered.Remove(c.unans)
		c.unans = nil
	default:
		// Unanswered, or answered but known only from responses (a bare
		// 200 OK is two lines for a scanner to forge): evicted first.
		t.unanswered.MoveToBack(c.unans)
	}
	t.replayHeld()
}

func (t *Tracker) newCall(m *sip.Message, at time.Time, src, dst netip.AddrPort, callID string) *Call {
	if len(t.calls) >= t.cfg.MaxCalls {
		t.evictOldest(at)
	}
	c := &Call{
		CallID:   callID,
		From:     string(m.From.URI),
		FromName: string(m.From.Display),
		To:       string(m.To.URI),
		PAI:      string(m.PAI),
		FromTag:  string(m.From.Tag),
		Start:    at,
		State:    Trying,
		lastSeen: at,
		codecs:   map[Dir]map[uint8]string{AtoB: {}, BtoA: {}},
		rates:    map[Dir]map[uint8]int{AtoB: {}, BtoA: {}},
	}
	if m.IsRequest() {
		c.Caller, c.Callee = src, dst
	} else {
		// First seen through a response: the capture started mid-dialog.
		c.Caller, c.Callee = dst, src
	}
	c.Direction = t.direction(c)
	if t.policy != nil {
		c.Policy = t.policy.Decide(c)
	} else {
		c.Policy = Decision{Record: true, Class: "default"}
	}
	c.Policy.AgentSide = t.agentSide(c)
	t.calls[callID] = c
	c.unans = t.unanswered.PushBack(c)
	t.Stats.Calls++
	return c
}

func (t *Tracker) request(c *Call, m *sip.Message, at time.Time, src netip.AddrPort, fromCaller bool) {
	c.requestSeen = true
	side := BtoA
	if fromCaller {
		side = AtoB
	}
	switch string(m.Method) {
	case "INVITE":
		if len(m.To.Tag) > 0 && c.ToTag == "" {
			c.ToTag = string(m.To.Tag)
		}
		if len(m.To.Tag) == 0 && (c.State == Rejected || c.State == Unanswered) && c.byeAt.IsZero() {
			// A new initial INVITE on the same Call-ID after a challenge
			// (401/407) or a failure: the caller retries the same call.
			c.State = Trying
			c.EndReason = ""
			c.FinalCode = 0
			c.End = time.Time{}
			c.finalAt = time.Time{}
		}
		if body := m.SDPBody(); body != nil {
			t.sdp(c, body, sideOf(side), at)
		}
	case "ACK", "PRACK", "UPDATE":
		if body := m.SDPBody(); body != nil {
			t.sdp(c, body, sideOf(side), at)
		}
	case "CANCEL":
		if !c.State.Answered() && c.finalAt.IsZero() {
			c.State = Cancelled
			c.EndReason = "cancel"
			c.End = at
			c.finalAt = at
		}
	case "BYE":
		if c.byeAt.IsZero() {
			c.byeAt = at
			c.End = at
			if c.State.Answered() {
				c.State = Ended
			} else if c.finalAt.IsZero() {
				c.State = Cancelled
			}
			if fromCaller {
				c.EndReason = "bye by caller"
			} else {
				c.EndReason = "bye by callee"
			}
			c.finalAt = at
		}
	}
}

// sideOf: SDP in a message sent by side d describes where side d receives.
func sideOf(sender Dir) Dir {
	if sender == AtoB {
		return BtoA // media toward the caller flows callee->caller
	}
	return AtoB
}

func (t *Tracker) response(c *Call, m *sip.Message, at time.Time, src netip.AddrPort, fromCaller bool) {
	if string(m.CSeqMethod) != "INVITE" {
		return
	}
	sender := BtoA
	if fromCaller {
		sender = AtoB
	}
	code := m.StatusCode
	if body := m.SDPBody(); body != nil && code < 300 {
		t.sdp(c, body, sideOf(sender), at)
	}
	switch {
	case code == 180 || code == 181 || code == 182:
		if c.State == Trying {
			c.State = Ringing
		}
	case code == 183:
		if c.State == Trying || c.State == Ringing {
			if m.SDPBody() != nil {
				c.State = Early
			} else {
				c.State = Ringing
			}
		}
	case code >= 200 && code < 300:
		if c.ToTag == "" {
			c.ToTag = string(m.To.Tag)
		}
		if !c.State.Answered() && c.byeAt.IsZero() {
			c.State = Answered
			c.Answer = at
			c.finalAt = time.Time{}
		}
	case code >= 300:
		if c.State.Answered() {
			return // a failed re-INVITE leaves the call up
		}
		if c.finalAt.IsZero() || c.State == Cancelled {
			if code == 487 && c.State == Cancelled {
				// the expected answer to CANCEL
			} else {
				c.State = Rejected
				c.EndReason = "rejected " + strconv.Itoa(code)
			}
			c.FinalCode = code
			c.End = at
			c.finalAt = at
		}
	}
}

// sdp registers where the side that sent an SDP body wants its media; recv
// is the packet direction of media flowing toward that side.
func (t *Tracker) sdp(c *Call, body []byte, recv Dir, at time.Time) {
	s, err := sdp.Parse(body)
	if err != nil {
		return
	}
	owner := BtoA
	if recv == AtoB {
		owner = AtoB
	}
	onHold := false
	media := s.Media
	if len(media) > maxMediaSections {
		// An SDP with thousands of m= lines (an attack: +1.1 GB per
		// 1,000 dialogs) registers only its first sections.
		media = media[:maxMediaSections]
		t.Stats.Anomalies++
	}
	for i := range media {
		md := &media[i]
		isAudio := md.Type == "audio" && strings.HasPrefix(strings.ToUpper(md.Proto), "RTP/")
		for _, f := range md.Formats {
			if f.Name != "" && len(c.codecs[recv]) < maxFormats {
				c.setCodec(recv, f.PT, f.Name)
				if f.Rate > 0 {
					c.rates[recv][f.PT] = f.Rate
				}
			}
		}
		if md.OnHold() && md.Type == "audio" {
			onHold = true
		}
		if ep, ok := md.Endpoint(); ok {
			t.register(c, ep, owner, isAudio, false)
			if isAudio {
				if rtcp, ok := md.RTCPEndpoint(); ok && rtcp != ep {
					t.register(c, rtcp, owner, false, true)
				}
			}
		}
	}
	// A side that offers sendonly/inactive (or 0.0.0.0) puts the other on hold.
	holder := AtoB
	if recv == AtoB {
		holder = BtoA
	}
	_ = holder
	sender := BtoA
	if recv == BtoA {
		sender = AtoB
	}
	if c.State.Answered() || c.Answer.IsZero() {
		if onHold && !c.holding[sender] {
			c.holding[sender] = true
			c.Holds = append(c.Holds, Hold{By: sender, Start: at})
			c.Events = append(c.Events, Event{Time: at, Kind: "hold", Detail: sender.String()})
		} else if !onHold && c.holding[sender] {
			c.holding[sender] = false
			for i := len(c.Holds) - 1; i >= 0; i-- {
				if c.Holds[i].By == sender && c.Holds[i].End.IsZero() {
					c.Holds[i].End = at
					break
				}
			}
			c.Events = append(c.Events, Event{Time: at, Kind: "unhold", Detail: sender.String()})
		}
	}
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
func (t *Tracker) forgetBySource(f *flow) {
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

var dtmfDigits = "0123456789*#ABCD"

// dtmf turns RFC 4733 telephone-events into call events: one event per
// digit, keyed by the RTP timestamp that all packets of one event share.
func (t *Tracker) dtmf(c *Call, d Dir, h *rtpHeader, payload []byte, at time.Time) {
	if len(payload) < 4 || c.pausedAt(at) {
		return
	}
	ev := int(payload[0])
	end := payload[1]&0x80 != 0
	dur := binary.BigEndian.Uint16(payload[2:4])
	if c.dtmf == nil {
		c.dtmf = map[uint32]*dtmfState{}
	}
	st := c.dtmf[h.ts]
	if st == nil && (len(c.Events) >= t.cfg.MaxEventsPerCall || len(c.dtmf) >= t.cfg.MaxEventsPerCall) {
		// Forged telephone-events: bounded, counted.
		c.Anomalies++
		t.Stats.Anomalies++
		return
	}
	if st == nil {
		st = &dtmfState{event: len(c.Events)}
		c.dtmf[h.ts] = st
		digit := "?"
		if ev < len(dtmfDigits) {
			digit = string(dtmfDigits[ev])
		}
		c.Events = append(c.Events, Event{Time: at, Kind: "dtmf", Digit: digit, Detail: d.String()})
	}
	rate := c.clockRate(d, h.pt)
	if rate <= 0 {
		rate = 8000
	}
	if st.event < len(c.Events) {
		c.Events[st.event].Duration = time.Duration(dur) * time.Second / time.Duration(rate)
	}
	_ = end
}

// write hands a frame to the call's recording, starting the recording on
// the first media frame and holding SIP frames until then.
func (t *Tracker) write(c *Call, f *Frame, isSIP bool) {
	if c.rec == nil {
		if isSIP || t.rec == nil || !c.Policy.Record || c.recordErr != nil {
			if isSIP {
				t.hold(c, f)
			}
			return
		}
		rec, err := t.rec.Start(c)
		if err != nil {
			c.recordErr = err
			c.detailKept = errors.Is(err, ErrDetailKept)
			t.Stats.RecordErrors++
			c.Events = append(c.Events, Event{Time: f.Time, Kind: "record_error", Detail: err.Error()})
			return
		}
		c.rec = rec
		c.Recorded = true
		t.Stats.CallsRecorded++
		for i := range c.pending {
			if err := rec.Write(&c.pending[i]); err != nil {
				t.recordError(c, f.Time, err)
				return
			}
		}
		t.pendingTotal -= c.pendingLen
		c.pending, c.pendingLen = nil, 0
	}
	if err := c.rec.Write(f); err != nil {
		t.recordError(c, f.Time, err)
	}
}

func (t *Tracker) recordError(c *Call, at time.Time, err error) {
	t.Stats.RecordErrors++
	if c.recordErr == nil {
		c.recordErr = err
		c.Events = append(c.Events, Event{Time: at, Kind: "record_error", Detail: err.Error()})
	}
}

func (t *Tracker) hold(c *Call, f *Frame) {
	if c.pendingLen+len(f.Data) > t.cfg.MaxPendingBytes || t.pendingTotal+len(f.Data) > t.cfg.MaxPendingTotal {
		t.Stats.PendingOverflow++
		return
	}
	t.pendingTotal += len(f.Data)
	cp := *f
	cp.Data = append([]byte(nil), f.Data...)
	c.pending = append(c.pending, cp)
	c.pendingLen += len(cp.Data)
}

func (t *Tracker) unassociated(p *decode.Packet, k flowKey) {
	t.Stats.Unassociated++
	var h rtpHeader
	if !h.parse(p.Payload) || (h.pt >= 72 && h.pt <= 76) {
		return
	}
	uk := unassocKey{k, h.ssrc}
	u := t.unassoc[uk]
	if u == nil {
		if len(t.unassoc) >= t.cfg.MaxUnassociated {
			t.expireUnassoc(p.Time, true)
		}
		u = &Unassociated{Stream: Stream{Src: p.Src, Dst: p.Dst, PT: h.pt}}
		u.Stats.SSRC = h.ssrc
		if f, ok := sdp.Static(h.pt); ok {
			u.Codec = f.Name
			u.Stats.ClockRate = f.Rate
		} else {
			u.Codec = "PT" + strconv.Itoa(int(h.pt))
		}
		t.unassoc[uk] = u
	}
	u.countPT(h.pt)
	var fl rtpstream.Flags
	if h.marker {
		fl |= rtpstream.Marker
	}
	u.Stats.Add(p.Time, h.seq, h.ts, h.end-h.len, fl)
	// Confirmed RTP: sequence numbers advance (a constant or random
	// field would not) without being too sparse.
	st := &u.Stats
	u.confirmed = st.Packets >= 2 && st.Duplicates*2 < st.Packets && st.Expected() <= int64(st.Packets)*2+16

}

func (t *Tracker) finishUnassoc(u *Unassociated) {
	if u.confirmed && t.UnassocDone != nil {
		t.UnassocDone(u)
	}
}

func (t *Tracker) expireUnassoc(now time.Time, force bool) {
	var oldest unassocKey
	var oldestAt time.Time
	for k, u := range t.unassoc {
		if now.Sub(u.Stats.Last) > t.cfg.MediaTimeout {
			t.finishUnassoc(u)
			delete(t.unassoc, k)
			continue
		}
		if oldestAt.IsZero() || u.Stats.Last.Before(oldestAt) {
			oldest, oldestAt = k, u.Stats.Last
		}
	}
	if force && len(t.unassoc) >= t.cfg.MaxUnassociated {
		t.finishUnassoc(t.unassoc[oldest])
		delete(t.unassoc, oldest)
	}
}

// tick runs the expiry sweep once per second of capture time.
func (t *Tracker) tick(now time.Time) {
	if now.After(t.now) {
		t.now = now
	}
	if t.lastSweep.IsZero() {
		t.lastSweep = now
		return
	}
	if now.Sub(t.lastSweep) < time.Second {
		return
	}
	t.lastSweep = now
	t.Sweep(now)
}

// Sweep ends dialogs whose time is up at now. The pipeline calls it for
// live capture when no packet arrives for a while.
func (t *Tracker) Sweep(now time.Time) {
	if now.After(t.now) {
		t.now = now
	}
	if now.Sub(t.endedScan) >= t.cfg.HoldWindow {
		t.endedScan = now
		for k, at := range t.ended {
			if now.Sub(at) >= t.cfg.HoldWindow {
				delete(t.ended, k)
			}
		}
	}
	for _, c := range t.calls {
		switch {
		case !c.finalAt.IsZero():
			linger := t.cfg.Linger
			if c.FinalCode == 401 || c.FinalCode == 407 {
				// A challenged caller usually retries at once, a person
				// typing a password may take a while.
				linger = max(linger, t.cfg.DialogTimeout/3)
			}
			if now.Sub(c.finalAt) >= linger {
				t.finish(c, "")
			}
		case c.State.Answered():
			if now.Sub(c.lastSeen) >= t.cfg.MediaTimeout {
				c.State = Ended
				c.End = c.lastSeen
				c.EndReason = "media timeout"
				t.finish(c, "")
			}
		default:
			if now.Sub(c.lastSeen) >= t.cfg.DialogTimeout {
				c.State = Unanswered
				c.End = c.lastSeen
				c.EndReason = "dialog timeout"
				t.finish(c, "")
			}
		}
	}
	t.expireHeld(now)
	t.expireUnassoc(now, false)
}

func (t *Tracker) evictOldest(now time.Time) {
	var victim *Call
	if e := t.unanswered.Front(); e != nil {
		victim = e.Value.(*Call)
	}
	if victim == nil {
		// Every dialog held is answered (rare: MaxCalls answered calls at
		// once): the least recently seen of them goes.
		for _, c := range t.calls {
			if victim == nil || c.lastSeen.Before(victim.lastSeen) {
				victim = c
			}
		}
	}
	if victim != nil {
		t.Stats.CallsEvicted++
		victim.Events = append(victim.Events, Event{Time: now, Kind: "evicted", Detail: "too many dialogs at once"})
		if !victim.State.Answered() && victim.finalAt.IsZero() {
			victim.State = Unanswered
			victim.EndReason = "evicted"
		}
		if victim.End.IsZero() {
			victim.End = victim.lastSeen
		}
		t.finish(victim, "")
	}
}

// Close ends every dialog (reason, e.g. "capture ended" or "ended by
// shutdown", for calls still up) and reports every unassociated stream.
func (t *Tracker) Close(reason string) {
	t.releaseHeld(t.held.n)
	ids := make([]string, 0, len(t.calls))
	for id := range t.calls {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return t.calls[ids[i]].Start.Before(t.calls[ids[j]].Start) })
	for _, id := range ids {
		t.finish(t.calls[id], reason)
	}
	keys := make([]unassocKey, 0, len(t.unassoc))
	for k := range t.unassoc {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return t.unassoc[keys[i]].Stats.First.Before(t.unassoc[keys[j]].Stats.First) })
	for _, k := range keys {
		t.finishUnassoc(t.unassoc[k])
		delete(t.unassoc, k)
	}
}

// finish reconciles a call's signalling with its media, hands it to the
// recorder and forgets it.
func (t *Tracker) finish(c *Call, reason string) {
	if c.finalAt.IsZero() && reason != "" {
		if c.State.Answered() {
			c.State = Ended
		} else {
			c.State = Unanswered
		}
		c.EndReason = reason
		c.End = c.lastSeen
		if t.now.After(c.End) {
			c.End = t.now
		}
	}
	if c.End.IsZero() {
		c.End = c.lastSeen
	}
	for i := range c.Holds {
		if c.Holds[i].End.IsZero() {
			c.Holds[i].End = c.End
		}
	}
	t.reconcile(c)
	t.explainDone(c)
	delete(t.calls, c.CallID)
	if c.unans != nil {
		t.unanswered.Remove(c.unans)
		c.unans = nil
	}
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
				t.ended[f.key] = t.now
			}
		}
	}
	if c.rec != nil {
		if err := c.rec.Finish(c); err != nil {
			t.Stats.RecordErrors++
			c.Events = append(c.Events, Event{Time: c.End, Kind: "record_error", Detail: err.Error()})
		}
	} else if t.rec != nil && !c.detailKept {
		if err := t.rec.Detail(c); errors.Is(err, ErrDetailShed) {
			t.Stats.DetailsShed++
		} else if err != nil {
			t.Stats.RecordErrors++
		}
	}
	t.pendingTotal -= c.pendingLen
	c.pending, c.pendingLen = nil, 0
	if t.Done != nil {
		t.Done(c)
	}
}

// reconcile reports the gaps between what signalling says happened and
// what media was seen: the completeness check regulators ask for.
func (t *Tracker) reconcile(c *Call) {
	if !c.State.Answered() {
		return
	}
	a, b := !c.firstMedia[AtoB].IsZero(), !c.firstMedia[BtoA].IsZero()
	switch {
	case !a && !b:
		c.Events = append(c.Events, Event{Time: c.End, Kind: GapNoMedia, Detail: "answered but no media seen"})
	case a != b:
		missing := BtoA
		if !a {
			missing = AtoB
		}
		c.Events = append(c.Events, Event{Time: c.End, Kind: GapOneWay, Detail: "no media " + missing.String()})
	}
	if !c.byeAt.IsZero() {
		last := c.lastMedia[AtoB]
		if c.lastMedia[BtoA].After(last) {
			last = c.lastMedia[BtoA]
		}
		if !last.IsZero() && c.byeAt.Sub(last) > t.cfg.MediaStoppedGap {
			c.Events = append(c.Events, Event{Time: last, Kind: GapMediaStopped,
				Detail: fmt.Sprintf("media stopped %s before the BYE", c.byeAt.Sub(last).Round(time.Second))})
		}
	}
	if (a || b) && !c.Recorded && c.Policy.Record && t.rec != nil {
		c.Events = append(c.Events, Event{Time: c.End, Kind: GapNotRecorded, Detail: "media seen but nothing stored"})
	}
}

func (t *Tracker) direction(c *Call) Direction {
	callerLocal := t.isLocal(c.From, c.Caller.Addr())
	calleeLocal := t.isLocal(c.To, c.Callee.Addr())
	switch {
	case callerLocal && calleeLocal:
		return Internal
	case callerLocal:
		return Outbound
	case calleeLocal:
		return Inbound
	}
	return External
}

func (t *Tracker) agentSide(c *Call) Dir {
	// Media flowing from the agent: AtoB when the caller is the agent.
	if c.Direction == Outbound || c.Direction == Internal {
		return AtoB
	}
	return BtoA
}

func (t *Tracker) isLocal(uri string, addr netip.Addr) bool {
	user := string(sip.User([]byte(uri)))
	for _, p := range t.cfg.Extensions {
		if MatchPattern(p, user) {
			return true
		}
	}
	if len(t.cfg.Extensions) > 0 {
		return false
	}
	for _, n := range t.cfg.LocalNets {
		if n.Contains(addr.Unmap()) {
			return true
		}
	}
	return false
}

// MatchPattern matches a dial pattern: digits and letters match themselves,
// 'x' or 'X' any digit, and a trailing '*' any rest (record.MatchExtension,
// which the archive uses too, so that box and archive place a call alike).
func MatchPattern(pattern, s string) bool { return record.MatchExtension(pattern, s) }

// Bounds on what one SDP can register.
const (
	maxMediaSections = 16
	maxFormats       = 64
)

// Event kinds for attacks seen on a call.
const (
	EventMediaClaim = "media_claim" // another dialog's SDP named this call's media address
	EventAnomaly    = "anomaly"     // more streams or events than a call can have, unexplained RTP
	// EventNATSource: media from an address no signalling named was taken
	// as a party's NAT source (see explain.go).
	EventNATSource = "nat_source"
	// EventMediaMoved: a flow latched by its source moved to the call
	// whose SDP named its destination (not an attack: a shared sending
	// port and a late or lost SDP).
	EventMediaMoved = "media_moved"
)

// mediaBothWays reports whether media was seen in both directions.
func (c *Call) mediaBothWays() bool {
	return !c.firstMedia[AtoB].IsZero() && !c.firstMedia[BtoA].IsZero()
}

package calls

import (
	"container/list"
	"net/netip"
	"strings"
	"time"

	"github.com/spanvault/spanvault/capture/rtpstream"
	"github.com/spanvault/spanvault/record"
)

// State is where an INVITE dialog ended up (or is now).
type State string

// Call states.
const (
	Trying     State = "trying"
	Ringing    State = "ringing"
	Early      State = "early"      // 183 with SDP: early media
	Answered   State = "answered"   // 2xx, still up
	Ended      State = "ended"      // answered, then ended (BYE, timeout, shutdown)
	Rejected   State = "rejected"   // 3xx-6xx final response
	Cancelled  State = "cancelled"  // CANCEL before answer
	Unanswered State = "unanswered" // no final response before the dialog timed out
)

// Answered reports whether the call was ever answered.
func (s State) Answered() bool { return s == Answered || s == Ended }

// Direction of a call relative to the branch.
type Direction string

// Call directions.
const (
	Inbound  Direction = record.Inbound
	Outbound Direction = record.Outbound
	Internal Direction = record.Internal
	External Direction = record.External // neither side is local: transit traffic
)

// Dir is the direction of one packet within a call (record.Dir: it is
// stored in every sealed frame).
type Dir = record.Dir

// Packet directions. A is the caller (sender of the initial INVITE).
const (
	AtoB = record.AtoB // caller to callee
	BtoA = record.BtoA // callee to caller
)

// Kind says what a recorded frame carries (record.Kind: it is stored in
// every sealed frame).
type Kind = record.Kind

// Frame kinds.
const (
	KindSIP  = record.KindSIP
	KindRTP  = record.KindRTP
	KindRTCP = record.KindRTCP
)

// Frame is one captured frame handed to a Recording (record.Frame). Data
// is only valid during the call to Write: the recording copies what it
// keeps.
type Frame = record.Frame

// Event is something that happened during a call worth telling an auditor
// (record.Event: the vault seals it with the call's personal record).
type Event = record.Event

// Event kinds that report a gap between signalling and media.
const (
	GapNoMedia      = "gap_no_media"      // answered, but no media at all
	GapOneWay       = "gap_one_way"       // media in one direction only
	GapMediaStopped = "gap_media_stopped" // media stopped well before the BYE
	GapNotRecorded  = "gap_not_recorded"  // media seen but policy or a pause kept it out
)

// Stream is one RTP stream (one SSRC from one source to one destination).
type Stream struct {
	Src, Dst     netip.AddrPort
	Dir          Dir
	Flow         uint16
	PayloadTypes []PTCount // packets per payload type, in order of first use
	Codec        string    // encoding name of the main payload type
	PT           uint8     // main payload type
	Stats        rtpstream.Stats
	// foreign: the call's signalling does not explain the stream's
	// source (see explain.go); it is not one of the call's Streams.
	foreign bool
	rtcp    rtcpSeen // what RTCP said of the stream (completeness.go)
}

// PTCount is how many packets of one payload type a stream carried.
type PTCount struct {
	PT      uint8
	Packets uint64
}

// countPT counts one packet of payload type pt and returns the count so far.
// A stream carries one to three payload types (audio, events, comfort
// noise); a short list beats a map on the per-packet path.
func (s *Stream) countPT(pt uint8) uint64 {
	for i := range s.PayloadTypes {
		if s.PayloadTypes[i].PT == pt {
			s.PayloadTypes[i].Packets++
			return s.PayloadTypes[i].Packets
		}
	}
	s.PayloadTypes = append(s.PayloadTypes, PTCount{pt, 1})
	return 1
}

// Packets returns how many packets of payload type pt the stream carried.
func (s *Stream) Packets(pt uint8) uint64 {
	for _, c := range s.PayloadTypes {
		if c.PT == pt {
			return c.Packets
		}
	}
	return 0
}

// Hold is one period in which a side put the other on hold.
type Hold struct {
	By    Dir       `json:"by"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end,omitzero"`
}

// Call is one INVITE dialog. The tracker owns it and changes it from its
// own goroutine; a Recorder is handed a record.Draft of it (Draft), never
// the Call. Done, Calls and Lookup give it to code on the tracker's
// goroutine.
type Call struct {
	CallID    string
	From, To  string // URIs
	FromName  string
	PAI       string
	FromTag   string
	ToTag     string
	Direction Direction
	// Line is the configured extension pattern (capture.extensions) the
	// branch's own party matched: what the coverage ledger counts the
	// call under. Empty without extensions or for an external call.
	Line      string
	Caller    netip.AddrPort // signalling address of the caller
	Callee    netip.AddrPort
	Transport map[string]bool // udp, tcp

	Start, Answer, End time.Time
	State              State
	EndReason          string
	FinalCode          int

	Streams []*Stream
	Events  []Event
	// Anomalies counts packets beyond the call's stream or event bounds
	// (spoofed RTP, forged DTMF); they are stored, not tracked.
	Anomalies uint64
	// Unexplained counts the RTP packets towards the call's ports from
	// sources its signalling does not explain (see explain.go): part of
	// Anomalies, kept out of Streams, DTMF and audio, stored only up to
	// the tracker's MaxUnexplainedStored.
	Unexplained uint64
	Holds       []Hold

	RTCPPackets uint64
	SIPMessages int

	// Recording state, set by the tracker.
	Recorded  bool // media was stored
	Policy    Decision
	Paused    bool
	Consented bool
	Tags      []string

	codecs     map[Dir]map[uint8]string // payload type names per receiving side
	events     [2][2]uint64             // per receiving side, bit pt set: pt is telephone-event
	rates      map[Dir]map[uint8]int
	endpoints  []epRef
	flows      []*flow
	pending    []Frame // SIP frames before the recording starts
	pendingLen int
	rec        Recording
	lastSeen   time.Time
	// unans is the call's place in the tracker's list of unanswered
	// dialogs, least recently seen first (nil once answered or ended).
	unans *list.Element
	// detailKept: the recorder stored the call's record when Start failed.
	detailKept bool
	lastMedia  [2]time.Time
	firstMedia [2]time.Time
	byeAt      time.Time
	finalAt    time.Time // when the dialog reached a final state
	recordErr  error
	dtmf       map[uint32]*dtmfState // by RTP timestamp of the event
	nextFlow   uint16
	holding    [2]bool
	pauses     []pauseSpan
	consentAt  time.Time
	// requestSeen: a request of the dialog was seen (an INVITE, ACK, BYE
	// ...); a dialog known only from responses is not confirmed until
	// then, or until media flows both ways.
	requestSeen bool
	// Unexplained media (explain.go): the streams (bounded), whether more
	// were seen than kept per direction, the packets stored, and the NAT
	// source latched per direction.
	foreign           []*Stream
	foreignMore       [2]bool
	unexplainedStored int
	unexplainedEvent  int // index of the anomaly event in Events
	natSrc            [2]netip.AddrPort
}

// pauseSpan is one pause of recording; to is zero while it lasts.
type pauseSpan struct{ from, to time.Time }

// pausedAt reports whether a packet captured at t falls in a pause.
func (c *Call) pausedAt(t time.Time) bool {
	for _, p := range c.pauses {
		if !t.Before(p.from) && (p.to.IsZero() || t.Before(p.to)) {
			return true
		}
	}
	return false
}

type epRef struct {
	ep   netip.AddrPort
	side Dir // which side advertised it: media sent to it flows toward that side
}

type dtmfState struct {
	event int
}

// Codecs returns the names of the codecs that carried media.
func (c *Call) Codecs() []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range c.Streams {
		if s.Codec != "" && !seen[s.Codec] {
			seen[s.Codec] = true
			out = append(out, s.Codec)
		}
	}
	return out
}

// RecordingID returns the vault's ID of the call's recording, or "" while
// no media has been stored.
func (c *Call) RecordingID() string {
	if r, ok := c.rec.(interface{ ID() string }); ok {
		return r.ID()
	}
	return ""
}

// RecordingLost reports whether the call's recording, accepted when its
// media began, could not be opened after all (a recorder that opens files
// off the capture path finds out later): its call is kept as a call
// detail record only.
func (c *Call) RecordingLost() bool {
	r, ok := c.rec.(interface{ Lost() bool })
	return ok && r.Lost()
}

// PayloadNames returns the encoding names the call's SDP gave payload
// types, both directions merged (the answer normally mirrors the offer).
func (c *Call) PayloadNames() map[uint8]string {
	out := map[uint8]string{}
	for _, d := range []Dir{BtoA, AtoB} {
		for pt, n := range c.codecs[d] {
			out[pt] = n
		}
	}
	return out
}

// Duration is the talk time: answer to end.
func (c *Call) Duration() time.Duration {
	if c.Answer.IsZero() || c.End.IsZero() {
		return 0
	}
	return c.End.Sub(c.Answer)
}

// Decision is what the recording policy says about a call (record.Decision).
type Decision = record.Decision

// setCodec names payload type pt for the side that receives it.
func (c *Call) setCodec(recv Dir, pt uint8, name string) {
	c.codecs[recv][pt] = name
	bit := uint64(1) << (pt & 63)
	if strings.EqualFold(name, "telephone-event") {
		c.events[recv][pt>>6&1] |= bit
	} else {
		c.events[recv][pt>>6&1] &^= bit
	}
}

// isEvent reports whether pt carries RFC 4733 telephone-events towards recv.
func (c *Call) isEvent(recv Dir, pt uint8) bool {
	return c.events[recv][pt>>6&1]&(uint64(1)<<(pt&63)) != 0
}

// confirmed: the dialog is more than forged responses: a request of it was
// seen, or media flowed both ways.
func (c *Call) confirmed() bool {
	return c.requestSeen || (!c.firstMedia[AtoB].IsZero() && !c.firstMedia[BtoA].IsZero())
}

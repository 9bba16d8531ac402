package calls

import (
	"container/list"
	"net/netip"
	"time"

	"github.com/spanvault/spanvault/capture/sip"
	"github.com/spanvault/spanvault/record"
)

// Recorder stores what the tracker finds (record.Recorder). The vault
// implements it; the tracker calls it from its own goroutine only, and
// hands it a record.Draft of the call (Call.Draft) that it does not change
// afterwards: the recorder needs nothing of this package to read it.
type Recorder = record.Recorder

// Recording receives the frames of one call as they arrive
// (record.Recording).
type Recording = record.Recording

// ErrDetailKept is wrapped by a Recorder's Start error when it failed after
// storing the call's detail record itself: the tracker then does not call
// Detail for the call (which once left two index entries).
var ErrDetailKept = record.ErrDetailKept

// ErrDetailShed is wrapped by a Recorder's Detail error when it gave the
// record up at a bound it documents (an INVITE flood outrunning the disk):
// counted as shed, not as a recording error.
var ErrDetailShed = record.ErrDetailShed

// Policy decides, when a call is first seen, whether and how to record it.
type Policy interface {
	Decide(s record.Setup) Decision
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

// Tracker follows SIP dialogs and associates media with them. It is not
// safe for concurrent use.
type Tracker struct {
	cfg    Config
	rec    Recorder
	policy Policy
	calls  map[string]*Call
	// flowTable: which call each advertised address and each media
	// flow belongs to (flows.go).
	flowTable
	unassoc map[unassocKey]*Unassociated
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
		flowTable: newFlowTable(),
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

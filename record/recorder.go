package record

import (
	"errors"
	"time"
)

// LinkType is a captured frame's link-layer header type (pcap's
// LINKTYPE_*); capture/decode.LinkType is this type. It is stored in every
// sealed frame.
type LinkType uint16

// Frame is one captured frame handed to a Recording. Data is only valid
// during the call to Write: the recording copies what it keeps.
type Frame struct {
	Time      time.Time
	Data      []byte
	LinkType  LinkType
	HeaderLen int  // frame bytes before the SIP message or RTP payload
	Kind      Kind //
	Dir       Dir
	Flow      uint16 // 0 for SIP; for media the call's flow number (1, 2, ...)
}

// Recorder stores what the call tracker finds (capture/calls.Recorder).
// The vault implements it; the tracker calls it from its own goroutine
// only, and hands it drafts it does not change afterwards.
type Recorder interface {
	// Start opens the recording of a call whose first media packet has
	// arrived. The SIP frames seen so far follow through Write.
	Start(d *Draft) (Recording, error)
	// Detail stores the call detail record of a dialog that never had
	// media stored (rejected, cancelled, unanswered, or not to record).
	Detail(d *Draft) error
}

// Recording receives the frames of one call as they arrive.
type Recording interface {
	Write(f *Frame) error
	// Finish seals the recording with the call's final record.
	Finish(d *Draft) error
}

// ErrDetailKept is wrapped by a Recorder's Start error when it failed after
// storing the call's detail record itself: the tracker then does not call
// Detail for the call (which once left two index entries).
var ErrDetailKept = errors.New("calls: the call's detail record is already kept")

// ErrDetailShed is wrapped by a Recorder's Detail error when it gave the
// record up at a bound it documents (an INVITE flood outrunning the disk):
// counted as shed, not as a recording error.
var ErrDetailShed = errors.New("calls: call detail record shed at the recorder's bound")

// Setup is what a call's recording policy decides on: the call as it is
// first seen.
type Setup struct {
	CallID    string
	FromUser  string // the user part of From, as sent
	ToUser    string // the user part of To, as sent
	Direction string // Inbound, Outbound, Internal or External
}

// Decision is what the recording policy says about a call.
type Decision struct {
	Record    bool   // store media at all
	Class     string // retention class name
	AgentOnly bool   // record only the agent's side until consent
	AgentSide Dir    // which side is the agent (the local party)
}

// Call directions relative to the branch (Entry.Direction, Draft.Direction).
const (
	Inbound  = "inbound"
	Outbound = "outbound"
	Internal = "internal"
	External = "external" // neither side is local: transit traffic
)

package record

import (
	"net/netip"
	"time"
)

// Draft is a call as the capture side hands it to the Recorder: what the
// call tracker saw, finished (numbers normalised, codecs named, streams
// summarised into their figures) and never changed after it is handed
// over. The recorder adds what is its own (ID, state, size, the class's
// expiry, holds, sync state) and decides which events stay in clear: the
// data flows one way, and the recorder needs nothing of the capture side
// to read it.
type Draft struct {
	CallState string // "trying" ... "unanswered" (capture/calls.State)
	Answered  bool   // CallState is "answered" or "ended"
	EndReason string
	Direction string // Inbound, Outbound, Internal or External
	// Line is the extension pattern the branch's party matched
	// (capture.extensions, "2xxx"): a group of lines, not a person.
	Line string
	// Start, Answer and End are the call's times as captured; End is zero
	// while the call is up.
	Start, Answer, End time.Time
	Duration           time.Duration    // talk time: answer to end
	Codecs             []string         // the codecs that carried media, in order of first use
	Formats            map[uint8]string // payload type -> encoding name, from both sides' SDP
	Class              string           // the retention class the policy chose ("": the default)
	AgentOnly          bool             // only the agent's side is recorded (no consent)
	Recorded           bool             // media was stored
	Streams            []StreamStats    // the call's RTP streams, in order of first packet
	// Personal is the sealed half: parties, signalling addresses, the
	// normalised numbers of From, To and PAI (sorted), the streams'
	// addresses, every event (digits, tags) and the tags.
	Personal Personal
	// FromNumber and ToNumber are NormalizeNumber of From's and To's user
	// parts; Dialled is To's user part lower-cased (floods are counted by
	// it).
	FromNumber, ToNumber string
	Dialled              string
	// CallerAddr is the caller's signalling address.
	CallerAddr netip.Addr
}

// ExternalNumbers are the normalised numbers of a call's external party:
// From's for an inbound call, To's for an outbound one, both otherwise
// (once when they are the same).
func (d *Draft) ExternalNumbers() []string {
	switch d.Direction {
	case Inbound:
		return []string{d.FromNumber}
	case Outbound:
		return []string{d.ToNumber}
	}
	if d.FromNumber == d.ToNumber {
		return []string{d.FromNumber}
	}
	return []string{d.FromNumber, d.ToNumber}
}

// AnsweredState reports whether a call state (Entry.CallState) is one of
// an answered call: "answered" (still up) or "ended".
func AnsweredState(s string) bool { return s == "answered" || s == "ended" }

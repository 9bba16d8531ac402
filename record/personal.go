package record

import "time"

// Personal is the sealed part of an index record.
type Personal struct {
	CallID   string        `json:"call_id"`
	From     string        `json:"from"`
	FromName string        `json:"from_name,omitempty"`
	To       string        `json:"to"`
	PAI      string        `json:"pai,omitempty"`
	Caller   string        `json:"caller,omitempty"` // signalling address
	Callee   string        `json:"callee,omitempty"`
	Numbers  []string      `json:"numbers"` // user parts of From, To and PAI, for subject lookups
	Streams  []StreamAddrs `json:"streams,omitempty"`
	Events   []Event       `json:"events,omitempty"` // with DTMF digits and tags
	Tags     []string      `json:"tags,omitempty"`
}

// StreamAddrs are a stream's addresses, in the same order as Entry.Streams.
type StreamAddrs struct {
	Src string `json:"src"`
	Dst string `json:"dst"`
}

// Event is something that happened during a call worth telling an auditor:
// DTMF digits, holds, pauses, consent, and the gaps found when the call's
// signalling is reconciled with its media.
type Event struct {
	Time     time.Time     `json:"time"`
	Kind     string        `json:"kind"`
	Detail   string        `json:"detail,omitempty"`
	Digit    string        `json:"digit,omitempty"`
	Duration time.Duration `json:"duration_ns,omitempty"`
}

package record

import "time"

// Entry states.
const (
	StateRecording = "recording" // being written
	StateComplete  = "complete"  // sealed and finished
	StateTruncated = "truncated" // interrupted (crash, disk full); readable up to its last complete chunk
	StateCDR       = "cdr"       // call detail record only: no media stored
	StateErased    = "erased"    // deleted; only a tombstone remains
)

// Sync states (the sync client drives them; the vault only stores them).
const (
	SyncPending     = "pending"
	SyncAcked       = "acked"
	SyncNotRequired = "not_required" // nothing to send (call detail record)
)

// Entry is the clear part of an index record: what the box needs to run
// retention, quota and sync, and nothing that identifies a person.
type Entry struct {
	ID        string `json:"id"`
	State     string `json:"state"`
	CallState string `json:"call_state"`
	EndReason string `json:"end_reason,omitempty"`
	Direction string `json:"direction,omitempty"`
	// Line is the configured extension pattern the branch's party matched
	// (Draft.Line): the coverage ledger counts per line.
	Line          string           `json:"line,omitempty"`
	Start         time.Time        `json:"start"`
	Answer        time.Time        `json:"answer,omitzero"`
	End           time.Time        `json:"end,omitzero"`
	Duration      float64          `json:"duration_s"`
	Recorded      bool             `json:"recorded"`
	Size          int64            `json:"size"`
	SHA256        string           `json:"sha256,omitempty"` // of the sealed file
	Frames        uint64           `json:"frames,omitempty"`
	Codecs        []string         `json:"codecs,omitempty"`
	Formats       map[uint8]string `json:"formats,omitempty"` // payload type -> encoding name, for export
	Class         string           `json:"class"`
	Expiry        time.Time        `json:"expiry,omitzero"`
	Holds         []string         `json:"holds,omitempty"` // hold IDs
	Sync          string           `json:"sync"`
	AckedAt       time.Time        `json:"acked_at,omitzero"`
	ClockUnsynced bool             `json:"clock_unsynced,omitempty"`
	AgentOnly     bool             `json:"agent_only,omitempty"`
	Streams       []StreamStats    `json:"streams,omitempty"`
	Events        []ClearEvent     `json:"events,omitempty"`
	Note          string           `json:"note,omitempty"`
	// Completeness sums the streams' completeness (completeness.go).
	Completeness *Completeness `json:"completeness,omitempty"`
}

// Held reports whether the entry is under any hold.
func (e *Entry) Held() bool { return len(e.Holds) > 0 }

// StreamStats are the per-stream figures kept in clear.
type StreamStats struct {
	SSRC        string    `json:"ssrc"`
	PayloadType uint8     `json:"payload_type"`
	Codec       string    `json:"codec"`
	Dir         string    `json:"dir"`
	Packets     uint64    `json:"packets"`
	Lost        int64     `json:"lost"`
	Duplicates  uint64    `json:"duplicates"`
	OutOfOrder  uint64    `json:"out_of_order"`
	JitterMS    float64   `json:"jitter_ms"`
	MaxJitterMS float64   `json:"max_jitter_ms"`
	MOS         float64   `json:"mos"`
	First       time.Time `json:"first,omitzero"`
	Last        time.Time `json:"last,omitzero"`
	// Completeness is the stream's (completeness.go); nil in entries
	// written before it was recorded.
	Completeness *StreamCompleteness `json:"completeness,omitempty"`
}

// ClearEvent is a call event without personal content (no digits, no tags).
type ClearEvent struct {
	Time   time.Time `json:"time"`
	Kind   string    `json:"kind"`
	Detail string    `json:"detail,omitempty"`
}

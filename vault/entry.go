package vault

import (
	"time"

	"github.com/spanvault/spanvault/capture/calls"
)

// Entry states.
const (
	StateRecording = "recording" // being written
	StateComplete  = "complete"  // sealed and finished
	StateTruncated = "truncated" // interrupted (crash, disk full); readable up to its last complete chunk
	StateCDR       = "cdr"       // call detail record only: no media stored
	StateErased    = "erased"    // deleted; only a tombstone remains
)

// Sync states (the sync issue drives them; the vault only stores them).
const (
	SyncPending     = "pending"
	SyncAcked       = "acked"
	SyncNotRequired = "not_required" // nothing to send (call detail record)
)

// Entry is the clear part of an index record: what the box needs to run
// retention, quota and sync, and nothing that identifies a person.
type Entry struct {
	ID            string           `json:"id"`
	State         string           `json:"state"`
	CallState     string           `json:"call_state"`
	EndReason     string           `json:"end_reason,omitempty"`
	Direction     string           `json:"direction,omitempty"`
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
}

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
}

// ClearEvent is a call event without personal content (no digits, no tags).
type ClearEvent struct {
	Time   time.Time `json:"time"`
	Kind   string    `json:"kind"`
	Detail string    `json:"detail,omitempty"`
}

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
	Events   []calls.Event `json:"events,omitempty"` // with DTMF digits and tags
	Tags     []string      `json:"tags,omitempty"`
}

// StreamAddrs are a stream's addresses, in the same order as Entry.Streams.
type StreamAddrs struct {
	Src string `json:"src"`
	Dst string `json:"dst"`
}

// Tombstone is what remains of an erased or expired recording: enough to
// prove what was deleted, when, why and by whom, without the recording.
type Tombstone struct {
	ID        string    `json:"id"`
	Start     time.Time `json:"start"`
	Class     string    `json:"class"`
	DeletedAt time.Time `json:"deleted_at"`
	Reason    string    `json:"reason"`
	By        string    `json:"by"`
	SHA256    string    `json:"sha256,omitempty"`
	Synced    bool      `json:"synced"`
	// Subject is sealed (numbers only) so that a subject report can list
	// deletions; the box itself cannot read it.
	Subject []byte `json:"subject,omitempty"`
	// SealedReason is an erasure's free-text reason, sealed (Reason then
	// says only "erasure").
	SealedReason []byte `json:"sealed_reason,omitempty"`
	// Kind says what the deletion was: TombstoneRemoved (retention,
	// quota: the box let its copy go) or TombstoneErased (GDPR Art. 17).
	// Empty in tombstones written before it (see KindOf).
	Kind string `json:"kind,omitempty"`
}

// Package wire holds the messages of the sync protocol between a box and
// the archive (see sync/doc.go for the exchange, message by message), and
// their validation. Both sides decode a peer's message only through the
// Decode functions here, which bound its size and check its fields.
package wire

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spanvault/spanvault/record/auditchain"
)

// Paths.
const (
	PathCheckIn = "/sync/v1/checkin"
	PathAudit   = "/sync/v1/audit"
	PathObjects = "/sync/v1/objects/" // + hex SHA-256
	PathRecords = "/sync/v1/records"
	PathRenew   = "/sync/v1/renew"
)

// Headers of the object upload (after tus's core protocol).
const (
	HeaderOffset   = "Upload-Offset"
	HeaderLength   = "Upload-Length"
	HeaderComplete = "Upload-Complete" // "1" once the archive holds the whole object, durably
	HeaderError    = "Spanvault-Error"
)

// MaxMessage bounds any JSON message body (records and audit batches are
// split by the client to stay below it).
const MaxMessage = 8 << 20

// Health is what a box reports at check-in: no personal data.
type Health struct {
	Version        string    `json:"version"`
	Backlog        int       `json:"backlog"`       // recordings and records not yet acknowledged
	BacklogBytes   int64     `json:"backlog_bytes"` // their size
	KernelDrops    uint64    `json:"kernel_drops"`
	DiskUsed       int64     `json:"disk_used"`
	DiskTotal      int64     `json:"disk_total"`
	ClockSynced    bool      `json:"clock_synced"`
	LED            string    `json:"led"`
	CertNotAfter   time.Time `json:"cert_not_after,omitzero"`
	LastSync       time.Time `json:"last_sync,omitzero"`
	RecordErrors   uint64    `json:"record_errors"`
	CallsRecorded  uint64    `json:"calls_recorded"`
	AuditEntries   uint64    `json:"audit_entries"`
	AuditAnchorSeq uint64    `json:"audit_anchor_seq"`
	// Fields after here were added after protocol version 1's first
	// boxes (testdata/v1/checkin_health.json); an older box leaves them
	// out, which reads as zero.

	// ClockOffset is the box's clock minus the archive's, in seconds, as
	// the archive measured it at the box's last check-in (0 within the
	// tolerated skew).
	ClockOffset float64 `json:"clock_offset_s,omitempty"`
	// AfterPass says Backlog, BacklogBytes and the disk figures were
	// taken when the message was sent, after the pass's uploads (boxes
	// before it reported the backlog from before the pass).
	AfterPass bool `json:"after_pass,omitempty"`
	// UpdateFailure is why the box's last firmware update failed (empty:
	// none failed); PolicyFailure why it refused the archive's last
	// policy. The archive alerts on either.
	UpdateFailure string `json:"update_failure,omitempty"`
	PolicyFailure string `json:"policy_failure,omitempty"`

	// CallsIncompleteByUs: of today's recorded calls, those that miss
	// packets which crossed the mirrored wire (record.Completeness).
	CallsIncompleteByUs uint64 `json:"calls_incomplete_by_us,omitempty"`

	// Firmware (update.go): the serial of the build the box runs (0: not
	// an update-built image), its update state and the serial that state
	// is about, and when the box last rebooted into another firmware
	// (the capture gap of an update is audited on the box too).
	FirmwareSerial uint64    `json:"firmware_serial,omitempty"`
	UpdateState    string    `json:"update_state,omitempty"`
	UpdateSerial   uint64    `json:"update_serial,omitempty"`
	UpdateRollout  int64     `json:"update_rollout,omitempty"`
	BootedAt       time.Time `json:"booted_at,omitzero"`

	// LegalOverdue counts the box's recordings of a legally retained
	// class (must_sync) past their maximum age that the archive has not
	// acknowledged: kept on the box until it does, and alerted by the
	// archive (at the last retention sweep).
	LegalOverdue uint64 `json:"legal_overdue,omitempty"`
}

// CheckIn is the box's periodic message.
type CheckIn struct {
	Appliance string          `json:"appliance"`
	Time      time.Time       `json:"time"` // the box's clock when sent
	Health    Health          `json:"health"`
	Results   []CommandResult `json:"results,omitempty"`
	// TreeSize is the size of the archive's anchor log the box last
	// verified; the reply proves the log grew consistently from it.
	TreeSize int64 `json:"tree_size"`
	// Head is the box's signed audit head: the archive compares it with
	// what it anchored (a chain rewritten to the same length shows here).
	Head *Head `json:"head,omitempty"`
	// Policy is the box's central policy state (policy.go).
	Policy *PolicyReport `json:"policy,omitempty"`
}

// CheckInReply is the archive's answer.
type CheckInReply struct {
	Time     time.Time `json:"time"`
	Commands []Command `json:"commands,omitempty"`
	// ClockSkew is the box's clock minus the archive's, in seconds, when
	// it is beyond the tolerated skew; the box shows it and alerts.
	ClockSkew  float64    `json:"clock_skew,omitempty"`
	Checkpoint Checkpoint `json:"checkpoint"`
	// Consistency proves Checkpoint extends the tree of TreeSize.
	Consistency [][]byte `json:"consistency,omitempty"`
	// AnchoredSeq is the last audit entry of this box the archive holds.
	AnchoredSeq uint64 `json:"anchored_seq"`
	// RefusedErasures are this box's erasures the archive refused to
	// apply to its own copy since the last reply (see RefusedErasure).
	RefusedErasures []RefusedErasure `json:"refused_erasures,omitempty"`
	// Policy is the box's policy in force when it is newer than the one
	// the box reported applying (policy.go).
	Policy *SignedPolicy `json:"policy,omitempty"`
	// Update is a firmware update offered to the box (update.go).
	Update *UpdateOffer `json:"update,omitempty"`
}

// Command kinds.
const (
	CmdErase   = "erase"
	CmdHold    = "hold"
	CmdRelease = "release"
	CmdPull    = "pull"
)

// Command is an order from the archive, applied by the box through its
// vault (so it is audited there) and answered with a CommandResult.
type Command struct {
	ID        int64  `json:"id"`
	Kind      string `json:"kind"`
	Recording string `json:"recording,omitempty"` // empty with All
	All       bool   `json:"all,omitempty"`       // pull: everything pending
	Reason    string `json:"reason,omitempty"`
	By        string `json:"by,omitempty"`
}

// Command results.
const (
	ResultApplied = "applied"
	ResultRefused = "refused"
)

// CommandResult reports what the box did with a command.
type CommandResult struct {
	ID     int64  `json:"id"`
	Result string `json:"result"`
	Reason string `json:"reason,omitempty"`
}

// AuditEntry is one entry of the box's audit chain, exactly as the vault
// keeps it (its hash is recomputed from this encoding).
type AuditEntry = auditchain.Entry

// Head is the box's signed audit chain head.
type Head = auditchain.Head

// AuditUpload carries the entries after the archive's AnchoredSeq and the
// signed head that ends them.
type AuditUpload struct {
	Entries []AuditEntry `json:"entries"`
	Head    Head         `json:"head"`
	// Key is the box's Ed25519 audit public key; the archive pins the
	// first one it sees after enrollment and refuses any other.
	Key []byte `json:"key"`
}

// Checkpoint is a signed statement of the anchor log's size and root
// (golang.org/x/mod/sumdb/note text).
type Checkpoint struct {
	Size int64  `json:"size"`
	Hash []byte `json:"hash"`
	Note []byte `json:"note"`
}

// AnchorText is the record the archive's anchor log holds for a box's
// signed head; the box recomputes it to check the inclusion proof.
func AnchorText(name string, seq uint64, hash string) []byte {
	return fmt.Appendf(nil, "spanvault audit head\n%s\n%d\n%s\n", name, seq, hash)
}

// AuditReply proves the head is in the anchor log.
type AuditReply struct {
	Index      int64      `json:"index"` // the head's record in the log
	Inclusion  [][]byte   `json:"inclusion"`
	Checkpoint Checkpoint `json:"checkpoint"`
}

// Record is one index record of the box: a recording, a call detail
// record, or a tombstone. The archive indexes the clear fields and stores
// Entry (its bytes) and Sealed as they came.
type Record struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"` // recording, cdr, tombstone
	Start     time.Time `json:"start"`
	Class     string    `json:"class"`
	Expiry    time.Time `json:"expiry,omitzero"`
	Hold      bool      `json:"hold"`
	Recorded  bool      `json:"recorded"`
	Size      int64     `json:"size"`
	SHA256    string    `json:"sha256,omitempty"` // of the sealed file, for recordings
	DeletedAt time.Time `json:"deleted_at,omitzero"`
	// Tombstone is a tombstone's kind: TombstoneRemoved or
	// TombstoneErased (empty, from boxes before it: a removal).
	Tombstone string `json:"tombstone,omitempty"`
	// Entry is the box's clear index entry (a record.Entry; for a
	// tombstone, its record.Tombstone), typed, with the bytes the box
	// encoded (see Entry).
	Entry Entry `json:"entry"`
	// Sealed is the personal metadata sealed to the archive's recipient.
	Sealed []byte `json:"sealed,omitempty"`
	// Subject is the sealed subject minimum (numbers) kept with tombstones.
	Subject []byte `json:"subject,omitempty"`
}

// Record kinds.
const (
	KindRecording = "recording"
	KindCDR       = "cdr"
	KindTombstone = "tombstone"
)

// Records is a batch.
type Records struct {
	Records []Record `json:"records"`
}

// Ack answers one record. OK means durable at the archive.
type Ack struct {
	ID    string `json:"id"`
	Kind  string `json:"kind"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// RecordsReply answers a batch, one Ack per record, in order.
type RecordsReply struct {
	Acks []Ack `json:"acks"`
}

// RenewRequest carries a certificate signing request (DER) for the
// connection's own name; the box keeps its key or makes a new one.
type RenewRequest struct {
	CSR []byte `json:"csr"`
}

// RenewReply holds the new certificate and the CA (DER).
type RenewReply struct {
	Cert []byte `json:"cert"`
	CA   []byte `json:"ca"`
}

// ErrorReply is the body of every refusal.
type ErrorReply struct {
	Error string `json:"error"`
}

var (
	idRe   = regexp.MustCompile(`^[0-9a-z]{1,64}$`)
	nameRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$`)
)

// ValidName reports whether s is an acceptable appliance name (a DNS label
// sequence in lower case).
func ValidName(s string) bool { return nameRe.MatchString(s) }

// ValidID reports whether s looks like a box's recording ID.
func ValidID(s string) bool { return idRe.MatchString(s) }

// ValidHash reports whether s is a lower-case hex SHA-256.
func ValidHash(s string) bool {
	if len(s) != 64 || strings.ToLower(s) != s {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// Decode reads one JSON message of at most MaxMessage bytes into v,
// refusing unknown fields and trailing data.
func Decode(r io.Reader, v any) error {
	lr := &io.LimitedReader{R: r, N: MaxMessage + 1}
	dec := json.NewDecoder(lr)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if lr.N <= 0 {
			return fmt.Errorf("message larger than %d bytes", MaxMessage)
		}
		return fmt.Errorf("malformed message: %w", err)
	}
	if dec.More() {
		return errors.New("malformed message: trailing data")
	}
	return nil
}

// Validate checks a record's fields.
func (r *Record) Validate() error {
	if !ValidID(r.ID) {
		return fmt.Errorf("record id %q is not a recording ID", r.ID)
	}
	switch r.Kind {
	case KindRecording:
		if !ValidHash(r.SHA256) {
			return fmt.Errorf("record %s: sha256 %q is not a hex SHA-256", r.ID, r.SHA256)
		}
		if r.Size <= 0 {
			return fmt.Errorf("record %s: size %d", r.ID, r.Size)
		}
	case KindCDR, KindTombstone:
	default:
		return fmt.Errorf("record %s: unknown kind %q", r.ID, r.Kind)
	}
	if err := r.Entry.validate(); err != nil {
		return fmt.Errorf("record %s: %w", r.ID, err)
	}
	if len(r.Class) > 64 {
		return fmt.Errorf("record %s: class too long", r.ID)
	}
	return r.validateTombstone()
}

// Validate checks a command (the box runs it only if valid).
func (c *Command) Validate() error {
	switch c.Kind {
	case CmdErase, CmdHold, CmdRelease:
		if !ValidID(c.Recording) {
			return fmt.Errorf("command %d: %s needs a recording ID, got %q", c.ID, c.Kind, c.Recording)
		}
	case CmdPull:
		if !c.All && !ValidID(c.Recording) {
			return fmt.Errorf("command %d: pull needs a recording ID or all", c.ID)
		}
	default:
		return fmt.Errorf("command %d: unknown kind %q", c.ID, c.Kind)
	}
	return nil
}

// ParseOffset reads an Upload-Offset or Upload-Length header value.
func ParseOffset(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad offset %q", s)
	}
	return n, nil
}

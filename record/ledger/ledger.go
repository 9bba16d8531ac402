// Package ledger is a box's coverage ledger: what it saw and did with
// every dialog of one day (UTC), signed with the box's Ed25519 audit key
// (the key the archive pins for its audit chain), sent to the archive
// over sync (wire.PathLedger) and anchored in the archive's Merkle log
// beside the box's audit heads.
//
// The archive checks its holdings against each ledger (every recording
// it holds for the day is listed; every recording listed is held, or has
// a tombstone), and an evidence bundle (record/evidence) carries the
// ledger of the recording's day so that a reader without the archive can
// see that the recording is the one the box recorded and what else the
// box recorded that day.
//
// Format (version 1), read for seven years: a Signed is JSON
//
//	{"ledger": <the ledger's JSON, as signed>, "key": <32 bytes, base64>, "signature": <64 bytes, base64>}
//
// The signature is Ed25519 over SignedMessage(ledger bytes); the ledger
// bytes are kept as they were signed (json.RawMessage), never
// re-encoded. The ledger's hash (Hash) is the hex SHA-256 of the ledger
// bytes, and the archive's log holds AnchorText(appliance, day, hash) for
// it. A field is only ever added, with omitempty; a reader accepts
// fields it does not know.
//
// The ledger lists dialogs by the box's recording ID only: no number, no
// address, no name. Lines are the box's own names for the line or
// extension a call came in on (its configuration's, not a subscriber's
// number); a box that does not know a call's line counts it under "*".
package ledger

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Version is the ledger format this package writes.
const Version = 1

// MaxSize bounds a signed ledger (a busy branch has some thousands of
// dialogs a day; each item is about 200 bytes).
const MaxSize = 6 << 20

// Item statuses.
const (
	StatusComplete    = "complete"     // recorded whole
	StatusIncomplete  = "incomplete"   // recorded with a gap or cut (Reason says why)
	StatusNotRecorded = "not_recorded" // seen, not recorded (a call detail record only; Reason says why)
	StatusRemoved     = "removed"      // the box let its copy go (retention, quota); the archive's copy stays
	StatusErased      = "erased"       // erased (GDPR Art. 17); Reason says why when it may be said
)

// Ledger is one box's account of one day.
type Ledger struct {
	Version   int       `json:"version"`
	Appliance string    `json:"appliance"`
	Day       string    `json:"day"` // YYYY-MM-DD, UTC: dialogs that started that day
	Made      time.Time `json:"made"`
	Lines     []Line    `json:"lines"`
	Items     []Item    `json:"items"`
}

// Line is the day's figures for one line or extension.
type Line struct {
	Line       string `json:"line"`
	Seen       int    `json:"seen"`     // dialogs seen
	Answered   int    `json:"answered"` // of those, answered
	Recorded   int    `json:"recorded"` // of those, with media recorded
	Complete   int    `json:"complete"`
	Incomplete int    `json:"incomplete"`
	Removed    int    `json:"removed"`
	Erased     int    `json:"erased"`
	// Reasons counts incomplete, not recorded, removed and erased items
	// by status and reason ("incomplete: truncated").
	Reasons map[string]int `json:"reasons,omitempty"`
}

// Item is one dialog of the day.
type Item struct {
	ID       string `json:"id"`
	Line     string `json:"line"`
	Answered bool   `json:"answered"`
	Recorded bool   `json:"recorded"`
	SHA256   string `json:"sha256,omitempty"` // of the sealed recording, when recorded
	Size     int64  `json:"size,omitempty"`
	Status   string `json:"status"`
	Reason   string `json:"reason,omitempty"`
}

// Signed is a ledger with the box's signature.
type Signed struct {
	Ledger    json.RawMessage `json:"ledger"`
	Key       []byte          `json:"key"`
	Signature []byte          `json:"signature"`
}

// SignedMessage is what a ledger's signature covers.
func SignedMessage(ledger []byte) []byte {
	return append([]byte("spanvault ledger v1\n"), ledger...)
}

// Hash is the hex SHA-256 of the ledger's bytes as signed.
func Hash(ledger []byte) string {
	s := sha256.Sum256(ledger)
	return hex.EncodeToString(s[:])
}

// AnchorText is the record the archive's log holds for a ledger.
func AnchorText(appliance, day, hash string) []byte {
	return fmt.Appendf(nil, "spanvault coverage ledger\n%s\n%s\n%s\n", appliance, day, hash)
}

// RecordingText is the record the archive's log holds for a recording
// a ledger lists (one per recording, appended with the ledger): its
// sealed file's SHA-256 and the hex SHA-256 of its index entry as the
// archive holds it (the box's clear entry, byte for byte as sent), or
// "-" when the archive did not hold the entry when the ledger came.
func RecordingText(appliance, id, sha, entrySHA string) []byte {
	if entrySHA == "" {
		entrySHA = "-"
	}
	return fmt.Appendf(nil, "spanvault recording\n%s\n%s\n%s\n%s\n", appliance, id, sha, entrySHA)
}

// Sign encodes l and signs it with key.
func Sign(l *Ledger, key ed25519.PrivateKey) (*Signed, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(l)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	return &Signed{Ledger: b, Key: key.Public().(ed25519.PublicKey), Signature: ed25519.Sign(key, SignedMessage(b))}, nil
}

// ErrSignature: the ledger is not signed by the key it names.
var ErrSignature = errors.New("ledger: signature does not verify")

// Open checks the signature (with pub when given, else with the key the
// ledger names) and decodes the ledger.
func (s *Signed) Open(pub ed25519.PublicKey) (*Ledger, error) {
	if len(s.Ledger) > MaxSize {
		return nil, fmt.Errorf("ledger: %d bytes, more than %d", len(s.Ledger), MaxSize)
	}
	if len(s.Key) != ed25519.PublicKeySize {
		return nil, errors.New("ledger: key is not an Ed25519 public key")
	}
	if pub != nil && !pub.Equal(ed25519.PublicKey(s.Key)) {
		return nil, fmt.Errorf("%w: signed by a key other than the box's", ErrSignature)
	}
	if !ed25519.Verify(ed25519.PublicKey(s.Key), SignedMessage(s.Ledger), s.Signature) {
		return nil, ErrSignature
	}
	var l Ledger
	if err := json.Unmarshal(s.Ledger, &l); err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	if err := l.Validate(); err != nil {
		return nil, err
	}
	return &l, nil
}

var (
	idRe   = regexp.MustCompile(`^[0-9a-z]{1,64}$`)
	nameRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$`)
	hashRe = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// Validate checks the ledger's fields.
func (l *Ledger) Validate() error {
	if l.Version < 1 {
		return fmt.Errorf("ledger: version %d", l.Version)
	}
	if !nameRe.MatchString(l.Appliance) {
		return fmt.Errorf("ledger: appliance %q", l.Appliance)
	}
	if _, err := time.Parse(time.DateOnly, l.Day); err != nil {
		return fmt.Errorf("ledger: day %q is not YYYY-MM-DD", l.Day)
	}
	seen := make(map[string]bool, len(l.Items))
	for _, it := range l.Items {
		if !idRe.MatchString(it.ID) {
			return fmt.Errorf("ledger: item id %q", it.ID)
		}
		if seen[it.ID] {
			return fmt.Errorf("ledger: item %s listed twice", it.ID)
		}
		seen[it.ID] = true
		if it.SHA256 != "" && !hashRe.MatchString(it.SHA256) {
			return fmt.Errorf("ledger: item %s: sha256 %q", it.ID, it.SHA256)
		}
		switch it.Status {
		case StatusComplete, StatusIncomplete, StatusNotRecorded, StatusRemoved, StatusErased:
		default:
			if l.Version == Version {
				return fmt.Errorf("ledger: item %s: status %q", it.ID, it.Status)
			}
		}
	}
	return nil
}

// Find returns the item with the ID, or nil.
func (l *Ledger) Find(id string) *Item {
	for i := range l.Items {
		if l.Items[i].ID == id {
			return &l.Items[i]
		}
	}
	return nil
}

// Count fills in Lines from Items (one Line per line, in order of first
// appearance).
func (l *Ledger) Count() {
	l.Lines = nil
	at := map[string]int{}
	for _, it := range l.Items {
		name := it.Line
		if name == "" {
			name = "*"
		}
		i, ok := at[name]
		if !ok {
			i = len(l.Lines)
			at[name] = i
			l.Lines = append(l.Lines, Line{Line: name})
		}
		ln := &l.Lines[i]
		ln.Seen++
		if it.Answered {
			ln.Answered++
		}
		if it.Recorded {
			ln.Recorded++
		}
		switch it.Status {
		case StatusComplete:
			ln.Complete++
		case StatusIncomplete:
			ln.Incomplete++
		case StatusRemoved:
			ln.Removed++
		case StatusErased:
			ln.Erased++
		}
		if it.Status != StatusComplete {
			if ln.Reasons == nil {
				ln.Reasons = map[string]int{}
			}
			k := it.Status
			if it.Reason != "" {
				k += ": " + it.Reason
			}
			ln.Reasons[k]++
		}
	}
}

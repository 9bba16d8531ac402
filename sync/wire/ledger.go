package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spanvault/spanvault/record/ledger"
)

// PathLedger is where a box sends the coverage ledger of a finished day
// (record/ledger): once a night, after every recording of that day is
// acknowledged.
const PathLedger = "/sync/v1/ledger"

// LedgerUpload is a signed coverage ledger, byte for byte as the box
// signed it (record/ledger.Signed), with the Ed25519 audit key the
// archive pinned for the box.
type LedgerUpload = ledger.Signed

// LedgerReply proves the ledger is in the anchor log: Index is the
// ledger's record (ledger.AnchorText), Recordings how many recording
// records (ledger.RecordingText) the archive appended with it.
type LedgerReply struct {
	Index      int64      `json:"index"`
	Inclusion  [][]byte   `json:"inclusion"`
	Checkpoint Checkpoint `json:"checkpoint"`
	Recordings int        `json:"recordings"`
}

// ValidateLedger checks a ledger upload's shape before its signature is
// checked: sizes and the key's length.
func ValidateLedger(m *LedgerUpload) error {
	if len(m.Ledger) == 0 || len(m.Ledger) > ledger.MaxSize {
		return fmt.Errorf("ledger of %d bytes (1 to %d)", len(m.Ledger), ledger.MaxSize)
	}
	if len(m.Key) != 32 || len(m.Signature) != 64 {
		return fmt.Errorf("ledger key or signature of the wrong length (%d, %d)", len(m.Key), len(m.Signature))
	}
	// The signed bytes are kept and re-sent as they are: only the
	// encoding json.Marshal writes (compact, HTML characters escaped)
	// survives being carried inside other JSON unchanged.
	var c bytes.Buffer
	if err := json.Compact(&c, m.Ledger); err != nil || !bytes.Equal(c.Bytes(), m.Ledger) || bytes.ContainsAny(m.Ledger, "<>&") {
		return errors.New("ledger is not compact JSON as json.Marshal writes it")
	}
	return nil
}

package auditchain

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Entry is one audited action.
type Entry struct {
	Seq       uint64    `json:"seq"`
	Time      time.Time `json:"time"`
	Action    string    `json:"action"`
	Actor     string    `json:"actor,omitempty"`
	Recording string    `json:"recording,omitempty"`
	Detail    string    `json:"detail,omitempty"`
	Prev      string    `json:"prev"` // the previous entry's Hash
	// Hash is the hex SHA-256 of this entry's JSON encoding with Hash
	// empty: editing an entry shows at that entry, not only at the next.
	Hash string `json:"hash"`
}

// SelfHash is the hash an entry must carry: the hex SHA-256 of its JSON
// encoding with Hash empty.
func (e Entry) SelfHash() string {
	e.Hash = ""
	b, _ := json.Marshal(e)
	return HashOf(b)
}

// HashOf is the hex SHA-256 of b.
func HashOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Head is the signed chain head.
type Head struct {
	Seq       uint64 `json:"seq"`
	Hash      string `json:"hash"`
	Signature []byte `json:"signature"`
}

// HeadMessage is the byte string a head's signature covers (the
// signature itself is not part of it).
func HeadMessage(h Head) []byte {
	return []byte(fmt.Sprintf("spanvault audit head %d %s", h.Seq, h.Hash))
}

// BrokenError names the first entry where the chain does not hold.
type BrokenError struct {
	Seq    uint64 // the entry's sequence number (position in the chain)
	Reason string
}

func (e *BrokenError) Error() string {
	return fmt.Sprintf("audit: chain broken at entry %d: %s", e.Seq, e.Reason)
}

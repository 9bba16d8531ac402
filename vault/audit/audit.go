package audit

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/spanvault/spanvault/record/auditchain"
)

// Bucket names used in the vault's database.
var (
	BucketEntries = []byte("audit")
	BucketHead    = []byte("audit_head")
	keyHead       = []byte("head")
)

// Entry is one audited action (the format is auditchain's).
type Entry = auditchain.Entry

// Head is the signed chain head.
type Head = auditchain.Head

// BrokenError names the first entry where the chain does not hold.
type BrokenError = auditchain.BrokenError

// HeadMessage is the byte string a head's signature covers.
func HeadMessage(h Head) []byte { return auditchain.HeadMessage(h) }

// CheckLinks checks a run of entries against the entry before it and a
// signed head (auditchain.CheckLinks).
func CheckLinks(prev string, firstSeq uint64, entries []Entry, head Head, pub ed25519.PublicKey) error {
	return auditchain.CheckLinks(prev, firstSeq, entries, head, pub)
}

// Actions recorded in the trail.
const (
	RecordingStarted   = "recording_started"
	RecordingFinished  = "recording_finished"
	RecordingRecovered = "recording_recovered"
	CallDetail         = "call_detail"
	Export             = "export"
	Erasure            = "erasure"
	Hold               = "hold"
	Release            = "release"
	RetentionDelete    = "retention_delete"
	QuotaDelete        = "quota_delete"
	QuotaRefusal       = "quota_refusal"
	SyncAck            = "sync_ack"
	ConfigChange       = "config_change"
	AdminLogin         = "admin_login"
	Pause              = "pause"
	Resume             = "resume"
	Consent            = "consent"
	Tag                = "tag"
	VaultOpened        = "vault_opened"
	Repair             = "fsck_repair"
)

func seqKey(n uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], n)
	return k[:]
}

// Batch appends several entries in one transaction and signs the head
// once, at Commit: a retention sweep deleting thousands of recordings pays
// for one signature, not one per entry.
type Batch struct {
	b, hb *bolt.Bucket
	key   ed25519.PrivateKey
	seq   uint64
	prev  string
	dirty bool
}

// Begin starts a batch inside tx.
func Begin(tx *bolt.Tx, key ed25519.PrivateKey) (*Batch, error) {
	b, err := tx.CreateBucketIfNotExists(BucketEntries)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	hb, err := tx.CreateBucketIfNotExists(BucketHead)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	b.FillPercent = 0.95 // strictly appended
	a := &Batch{b: b, hb: hb, key: key}
	if k, v := b.Cursor().Last(); k != nil {
		a.seq = binary.BigEndian.Uint64(k)
		var last Entry
		if err := json.Unmarshal(v, &last); err != nil {
			return nil, fmt.Errorf("%w: last entry %d does not decode: %w", ErrCorrupt, a.seq, err)
		}
		a.prev = last.Hash
	}
	return a, nil
}

// Add appends e, filling in Seq, Prev and Hash.
func (a *Batch) Add(e Entry) (Entry, error) {
	a.seq++
	e.Seq = a.seq
	e.Prev = a.prev
	e.Time = e.Time.UTC()
	e.Hash = e.SelfHash()
	enc, err := json.Marshal(e)
	if err != nil {
		return e, fmt.Errorf("audit: %w", err)
	}
	if err := a.b.Put(seqKey(e.Seq), enc); err != nil {
		return e, fmt.Errorf("audit: %w", err)
	}
	a.prev = e.Hash
	a.dirty = true
	return e, nil
}

// Commit signs the new chain head.
func (a *Batch) Commit() error {
	if !a.dirty {
		return nil
	}
	h := Head{Seq: a.seq, Hash: a.prev}
	h.Signature = ed25519.Sign(a.key, HeadMessage(h))
	hj, _ := json.Marshal(h)
	if err := a.hb.Put(keyHead, hj); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// Append adds e to the chain inside tx and re-signs the head. It fills in
// Seq, Prev and Hash.
func Append(tx *bolt.Tx, key ed25519.PrivateKey, e Entry) (Entry, error) {
	a, err := Begin(tx, key)
	if err != nil {
		return e, err
	}
	if e, err = a.Add(e); err != nil {
		return e, err
	}
	return e, a.Commit()
}

// ErrNoChain is returned by Verify for a vault without any audit entry.
var ErrNoChain = errors.New("audit: no audit trail")

// ErrCorrupt is matched (errors.Is) by errors about audit records that
// do not decode: the index holding them is damaged.
var ErrCorrupt = errors.New("audit: trail damaged")

// Verify walks the whole chain and checks every link and the signed head.
// It returns the number of entries, or a *BrokenError naming the first bad
// entry.
func Verify(tx *bolt.Tx, pub ed25519.PublicKey) (uint64, error) {
	b := tx.Bucket(BucketEntries)
	if b == nil {
		return 0, ErrNoChain
	}
	var (
		want     uint64 = 1
		prev     string
		count    uint64
		lastHash string
	)
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		pos := binary.BigEndian.Uint64(k)
		if len(k) != 8 {
			return count, &BrokenError{Seq: want, Reason: "malformed key"}
		}
		if pos != want {
			return count, &BrokenError{Seq: want, Reason: fmt.Sprintf("entry missing (next present is %d)", pos)}
		}
		var e Entry
		if err := json.Unmarshal(v, &e); err != nil {
			return count, &BrokenError{Seq: pos, Reason: "entry does not decode: " + err.Error()}
		}
		if e.Seq != pos {
			return count, &BrokenError{Seq: pos, Reason: fmt.Sprintf("entry claims sequence %d (moved or reordered)", e.Seq)}
		}
		// Re-encoding must give the stored bytes, or fields were edited
		// in a way that still decodes.
		re, _ := json.Marshal(e)
		if !bytes.Equal(re, v) {
			return count, &BrokenError{Seq: pos, Reason: "entry bytes are not in canonical form (edited)"}
		}
		if e.SelfHash() != e.Hash {
			return count, &BrokenError{Seq: pos, Reason: "entry content does not match its hash (edited)"}
		}
		if e.Prev != prev {
			return count, &BrokenError{Seq: pos, Reason: "link to the previous entry does not match (an entry was rewritten with its hash, or removed)"}
		}
		prev = e.Hash
		lastHash = e.Hash
		want++
		count++
	}
	hb := tx.Bucket(BucketHead)
	if hb == nil || hb.Get(keyHead) == nil {
		if count == 0 {
			return 0, ErrNoChain
		}
		return count, &BrokenError{Seq: count, Reason: "signed head missing"}
	}
	var h Head
	if err := json.Unmarshal(hb.Get(keyHead), &h); err != nil {
		return count, &BrokenError{Seq: count, Reason: "signed head does not decode"}
	}
	if !ed25519.Verify(pub, HeadMessage(Head{Seq: h.Seq, Hash: h.Hash}), h.Signature) {
		return count, &BrokenError{Seq: h.Seq, Reason: "head signature invalid"}
	}
	if h.Seq != count {
		return count, &BrokenError{Seq: min(h.Seq, count+1), Reason: fmt.Sprintf("signed head names entry %d but the chain ends at %d (truncated)", h.Seq, count)}
	}
	if lastHash != h.Hash {
		return count, &BrokenError{Seq: count, Reason: "last entry differs from the signed head"}
	}
	return count, nil
}

// List returns entries from seq from (inclusive), at most n.
func List(tx *bolt.Tx, from uint64, n int) ([]Entry, error) {
	b := tx.Bucket(BucketEntries)
	if b == nil {
		return nil, nil
	}
	var out []Entry
	c := b.Cursor()
	for k, v := c.Seek(seqKey(from)); k != nil && len(out) < n; k, v = c.Next() {
		var e Entry
		if err := json.Unmarshal(v, &e); err != nil {
			return out, fmt.Errorf("audit: entry %x: %w", k, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// Count returns the number of entries.
func Count(tx *bolt.Tx) int {
	b := tx.Bucket(BucketEntries)
	if b == nil {
		return 0
	}
	return b.Stats().KeyN
}

// ReadHead returns the signed head (zero when there is no chain yet).
func ReadHead(tx *bolt.Tx) (Head, error) {
	var h Head
	hb := tx.Bucket(BucketHead)
	if hb == nil || hb.Get(keyHead) == nil {
		return h, nil
	}
	if err := json.Unmarshal(hb.Get(keyHead), &h); err != nil {
		return h, fmt.Errorf("%w: signed head does not decode: %w", ErrCorrupt, err)
	}
	return h, nil
}

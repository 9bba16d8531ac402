// Package anchor is the archive's append-only Merkle log of the boxes'
// signed audit heads (golang.org/x/mod/sumdb/tlog, the checksum
// database's log), with checkpoints signed as sumdb notes. Beside the
// heads it holds the archive's own trail ("archive:NAME"), the boxes'
// coverage ledgers ("ledger:NAME") and the recordings each ledger lists
// ("recording:NAME"), whose inclusion proofs evidence bundles carry.
//
// Invariants: records are only appended; each append stores the tlog
// hashes it creates in the same transaction as the record, so the log and
// its hashes never disagree. Every checkpoint signed is kept in the index,
// and none is signed for a log that no longer gives the last one kept
// (truncated or rewritten underneath). The log's size is the count of its
// records the index keeps (by triggers, with every record inserted or
// deleted), which must be its last record's number plus one with the
// first numbered 0: a log with a record deleted anywhere (or a number
// moved out of 0 to size-1) is refused (ErrInconsistent), by checkpoints
// and appends alike. A checkpoint is the head of the log as the index
// holds it when asked (its size read every time, so a record another
// front-end appended is in the next one); the one this Log signed last is
// returned again only while the size is the same and the stored hashes
// still give its tree hash, else a head is signed anew (cache.go). The
// archive's own trail has a
// record per entry (AnchorEvents); CheckLog recomputes the tree from the
// records and checks it against the stored hashes and kept checkpoints. A box keeps the last checkpoint it verified
// and checks every newer one against it with a consistency proof.
package anchor

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/sync/wire"
)

// Log is the anchor log, stored in the index database.
type Log struct {
	db     *index.DB
	signer note.Signer
	vkey   string
	mu     sync.Mutex
	last   signedHead // the last checkpoint signed (cache.go)
}

// NewKey makes a signing key pair for the log (note format).
func NewKey(name string) (skey, vkey string, err error) {
	return note.GenerateKey(rand.Reader, name)
}

// Open opens the log with the signing key in skeyFile and the verifier
// key in vkeyFile.
func Open(db *index.DB, skeyFile, vkeyFile string) (*Log, error) {
	sk, err := os.ReadFile(skeyFile)
	if err != nil {
		return nil, fmt.Errorf("anchor: %w", err)
	}
	vk, err := os.ReadFile(vkeyFile)
	if err != nil {
		return nil, fmt.Errorf("anchor: %w", err)
	}
	s, err := note.NewSigner(strings.TrimSpace(string(sk)))
	if err != nil {
		return nil, fmt.Errorf("anchor: %w", err)
	}
	return &Log{db: db, signer: s, vkey: strings.TrimSpace(string(vk))}, nil
}

// VerifierKey is the key boxes verify checkpoints with.
func (l *Log) VerifierKey() string { return l.vkey }

type hashReader struct {
	ctx context.Context
	q   interface {
		QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
		QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	}
}

// Size returns the number of records (the count kept in the index,
// checked against the records' numbers: readHead).
func (l *Log) Size(ctx context.Context) (int64, error) {
	n, _, err := readHead(ctx, l.db, nil)
	return n, err
}

// Append adds a record and returns its index (AppendBatch of one).
func (l *Log) Append(ctx context.Context, appliance string, seq uint64, text []byte) (int64, error) {
	return l.AppendBatch(ctx, []Record{{Appliance: appliance, Seq: seq, Text: text}})
}

// Checkpoint returns the signed tree head at the current size, and keeps
// it in the index (refusing to sign a log that no longer gives the last
// head kept). While the log in the index still gives the head last signed
// here (its size, and its tree hash recomputed from the stored hashes),
// that checkpoint is returned again without signing (cache.go): one index
// statement.
func (l *Log) Checkpoint(ctx context.Context) (size int64, hash tlog.Hash, signed []byte, err error) {
	c := l.last.get()
	size, hs, err := readHead(ctx, l.db, c.idx)
	if err != nil {
		return
	}
	if c.signed != nil && size == c.size {
		if h, err := tlog.TreeHash(size, hashesAt{c.idx, hs}); err == nil && h == c.hash {
			return size, c.hash, c.signed, nil
		}
		// Rewritten underneath: signed anew below, which storeCheckpoint
		// refuses.
	}
	if size > 0 {
		hash, err = tlog.TreeHash(size, hashReader{ctx, l.db})
		if err != nil {
			return
		}
	}
	signed, err = note.Sign(&note.Note{Text: string(tlog.FormatTree(tlog.Tree{N: size, Hash: hash}))}, l.signer)
	if err != nil {
		return
	}
	if err = l.storeCheckpoint(ctx, size, hash, signed); err != nil {
		return
	}
	idx, err := treeIndexes(size)
	if err != nil {
		return
	}
	l.last.put(cachedHead{size, hash, signed, idx})
	return
}

// ProveRecord proves record n is in the tree of size t.
func (l *Log) ProveRecord(ctx context.Context, t, n int64) (tlog.RecordProof, error) {
	return tlog.ProveRecord(t, n, hashReader{ctx, l.db})
}

// ProveTree proves the tree of size t extends the tree of size n.
func (l *Log) ProveTree(ctx context.Context, t, n int64) (tlog.TreeProof, error) {
	return tlog.ProveTree(t, n, hashReader{ctx, l.db})
}

// VerifyCheckpoint opens a signed checkpoint with the verifier key
// (wire.VerifyCheckpoint: the box checks checkpoints without linking the
// log).
func VerifyCheckpoint(vkey string, signed []byte) (tlog.Tree, error) {
	return wire.VerifyCheckpoint(vkey, signed)
}

// ErrInconsistent: the log did not grow append-only.
var ErrInconsistent = errors.New("anchor: the archive's log is not an extension of the one verified before")

package anchor

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/mod/sumdb/tlog"
)

// Every check-in's reply carries a signed checkpoint. Signing one costs a
// tree hash read from the index, a signature, and the checks of
// storeCheckpoint (the kept heads, the tree hash a second time); the log
// grows far less often than boxes check in. So a Log keeps the last head
// it signed and returns it again while the log's head in the index is
// the same: its size and its last stored hash, read in one statement at
// every call (two primary-key lookups, not a COUNT over the records).
// Front-ends sharing the index each read it: a record another front-end
// appended changes the size, and the next checkpoint is signed afresh, so
// no checkpoint is older than the index was when it was asked for (a box
// refuses a head smaller than the one it verified: TestAnchoringCheckpointAcrossFrontEnds).
// A log cut back underneath changes the size and is refused by
// storeCheckpoint as before. A log rewritten underneath to the very size
// and last stored hash cached is answered with the head signed for the log
// as it was, whose consistency proofs from the rewritten hashes then fail
// at the box (ErrAnchor); the next record appended goes through
// storeCheckpoint, which refuses to sign it, and verify finds it.

// signedHead is the last checkpoint the log signed and kept.
type signedHead struct {
	mu     sync.Mutex
	size   int64
	last   tlog.Hash // the last stored hash at size
	hash   tlog.Hash
	signed []byte
}

func (c *signedHead) get(size int64, last tlog.Hash) (tlog.Hash, []byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.signed == nil || c.size != size || c.last != last {
		return tlog.Hash{}, nil, false
	}
	return c.hash, c.signed, true
}

func (c *signedHead) put(size int64, last, hash tlog.Hash, signed []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.size, c.last, c.hash, c.signed = size, last, hash, signed
}

// head reads the log's size (its last record's number plus one: records
// are numbered from 0 without gaps, each append taking the next) and its
// last stored hash in one statement.
func (l *Log) head(ctx context.Context) (size int64, last tlog.Hash, err error) {
	var b []byte
	err = l.db.QueryRowContext(ctx, `SELECT COALESCE((SELECT MAX(n) FROM anchor_records), -1) + 1, (SELECT hash FROM anchor_hashes ORDER BY idx DESC LIMIT 1)`).Scan(&size, &b)
	if err != nil {
		return 0, last, fmt.Errorf("anchor: the log's size: %w", err)
	}
	copy(last[:], b)
	return size, last, nil
}

// ReadHashes reads the hashes in one statement (a tree hash needs one per
// complete subtree, a proof about twice as many: up to a hundred).
func (r hashReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	if len(indexes) == 0 {
		return out, nil
	}
	if len(indexes) == 1 {
		var b []byte
		if err := r.q.QueryRowContext(r.ctx, `SELECT hash FROM anchor_hashes WHERE idx = ?`, indexes[0]).Scan(&b); err != nil {
			return nil, fmt.Errorf("anchor: hash %d: %w", indexes[0], err)
		}
		copy(out[0][:], b)
		return out, nil
	}
	args := make([]any, len(indexes))
	for i, ix := range indexes {
		args[i] = ix
	}
	rows, err := r.q.QueryContext(r.ctx, `SELECT idx, hash FROM anchor_hashes WHERE idx IN (?`+strings.Repeat(", ?", len(indexes)-1)+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("anchor: hashes: %w", err)
	}
	defer rows.Close()
	got := make(map[int64]tlog.Hash, len(indexes))
	for rows.Next() {
		var ix int64
		var b []byte
		if err := rows.Scan(&ix, &b); err != nil {
			return nil, fmt.Errorf("anchor: hashes: %w", err)
		}
		var h tlog.Hash
		copy(h[:], b)
		got[ix] = h
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("anchor: hashes: %w", err)
	}
	for i, ix := range indexes {
		h, ok := got[ix]
		if !ok {
			return nil, fmt.Errorf("anchor: hash %d: not in the index", ix)
		}
		out[i] = h
	}
	return out, nil
}

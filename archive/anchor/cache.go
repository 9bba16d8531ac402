package anchor

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"golang.org/x/mod/sumdb/tlog"
)

// Every check-in's reply carries a signed checkpoint. Signing one costs a
// tree hash read from the index, a signature, and the checks of
// storeCheckpoint (the kept heads, the tree hash a second time); the log
// grows far less often than boxes check in. So a Log keeps the last head
// it signed and returns it again while the log in the index still gives
// it: at every call one statement reads the log's size (the count kept
// in anchor_size, checked against MIN(n) and MAX(n): primary-key lookups,
// not a COUNT over the records) and the stored hashes the kept head's
// tree hash is made of (at most log2(size) of them, by primary key), and
// the tree hash is recomputed from them.
// Front-ends sharing the index each read it: a record another front-end
// appended changes the size, and the next checkpoint is signed afresh, so
// no checkpoint is older than the index was when it was asked for (a box
// refuses a head smaller than the one it verified: TestAnchoringCheckpointAcrossFrontEnds).
// A record deleted underneath (anywhere: the count is kept by triggers),
// or a number moved out of 0 to size-1, makes the size inconsistent, and
// every checkpoint is refused (ErrInconsistent). A log cut back underneath changes the size,
// and one rewritten to the same size changes the tree hash recomputed;
// either way the head is signed anew and storeCheckpoint refuses it, at
// every front-end alike.

// cachedHead is a checkpoint the log signed and kept.
type cachedHead struct {
	size   int64
	hash   tlog.Hash
	signed []byte
	idx    []int64 // the stored hashes tlog.TreeHash(size) reads
}

// signedHead is the last checkpoint the log signed and kept.
type signedHead struct {
	mu sync.Mutex
	h  cachedHead
}

func (c *signedHead) get() cachedHead {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.h
}

func (c *signedHead) put(h cachedHead) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.h = h
}

// treeIndexes returns the indexes of the stored hashes tlog.TreeHash(n)
// reads (one per complete subtree).
func treeIndexes(n int64) ([]int64, error) {
	var r indexRecorder
	if _, err := tlog.TreeHash(n, &r); err != nil {
		return nil, fmt.Errorf("anchor: %w", err)
	}
	return r.idx, nil
}

type indexRecorder struct{ idx []int64 }

func (r *indexRecorder) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	r.idx = append(r.idx, indexes...)
	return make([]tlog.Hash, len(indexes)), nil
}

// hashesAt reads hashes from a statement's columns (nil: not stored).
type hashesAt struct {
	idx []int64
	col [][]byte
}

func (r hashesAt) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, ix := range indexes {
		j := slices.Index(r.idx, ix)
		if j < 0 || len(r.col[j]) != tlog.HashSize {
			return nil, fmt.Errorf("anchor: hash %d: not in the index", ix)
		}
		copy(out[i][:], r.col[j])
	}
	return out, nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// readHead reads the log's size and, in the same statement, the stored
// hashes at idx. The size is the count kept in anchor_size (by triggers,
// in the statement that inserts or deletes a record); records are
// numbered from 0 without gaps, each append taking the next, so the
// count must be MAX(n)+1 and MIN(n) 0: a log where it is not had a
// record deleted or renumbered underneath, and is ErrInconsistent.
func readHead(ctx context.Context, q querier, idx []int64) (size int64, hashes [][]byte, err error) {
	var count sql.NullInt64
	var next, first int64
	hashes = make([][]byte, len(idx))
	dest := []any{&count, &next, &first}
	args := make([]any, len(idx))
	for i := range idx {
		dest = append(dest, &hashes[i])
		args[i] = idx[i]
	}
	err = q.QueryRowContext(ctx, `SELECT (SELECT n FROM anchor_size WHERE id = 0), COALESCE((SELECT MAX(n) FROM anchor_records), -1) + 1, COALESCE((SELECT MIN(n) FROM anchor_records), 0)`+
		strings.Repeat(`, (SELECT hash FROM anchor_hashes WHERE idx = ?)`, len(idx)), args...).Scan(dest...)
	switch {
	case err != nil:
		return 0, nil, fmt.Errorf("anchor: the log's size: %w", err)
	case !count.Valid:
		return 0, nil, errors.New("anchor: the log's size is not kept (anchor_size)")
	case count.Int64 != next || first != 0:
		return 0, nil, fmt.Errorf("%w: it holds %d records, numbered %d to %d", ErrInconsistent, count.Int64, first, next-1)
	}
	return count.Int64, hashes, nil
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

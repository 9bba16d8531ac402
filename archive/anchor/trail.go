package anchor

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/sync/wire"
)

// The archive's own trail (the index's events, a plain hash chain) is in
// the log beside the boxes' heads: one record per entry, under the name
// "archive:NAME", with the entry's number and hash (wire.AnchorText), so
// that an index writer who deletes entries and recomputes the chain
// changes a head the log holds under a signed checkpoint, and verify
// names the first entry that differs.

// AnchorEvents appends a record for each entry of the archive's trail the
// log does not hold yet (at most max of them, oldest first) in one
// transaction, and reports how many it appended. Front-ends sharing the
// index may call it at once: the log's lock makes each entry go in once.
func (l *Log) AnchorEvents(ctx context.Context, name string, max int) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	if err := tx.Serialize(ctx, index.LockAnchor); err != nil {
		return 0, err
	}
	var last sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT MAX(seq) FROM anchor_records WHERE appliance = ?`, name).Scan(&last); err != nil {
		return 0, fmt.Errorf("anchor: %w", err)
	}
	rows, err := tx.QueryContext(ctx, fmt.Sprintf(`SELECT id, hash FROM events WHERE id > ? ORDER BY id LIMIT %d`, max), last.Int64)
	if err != nil {
		return 0, fmt.Errorf("anchor: %w", err)
	}
	type head struct {
		id   int64
		hash string
	}
	var hs []head
	for rows.Next() {
		var h head
		if err := rows.Scan(&h.id, &h.hash); err != nil {
			rows.Close()
			return 0, err
		}
		hs = append(hs, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if len(hs) == 0 {
		return 0, nil
	}
	n, _, err := readHead(ctx, tx, nil)
	if err != nil {
		return 0, err
	}
	// The batch's own hashes are read back from memory, not the database.
	rd := cachedReader{hashReader{ctx, tx}, map[int64]tlog.Hash{}}
	for _, h := range hs {
		text := wire.AnchorText(name, uint64(h.id), h.hash)
		hashes, err := tlog.StoredHashes(n, text, rd)
		if err != nil {
			return 0, fmt.Errorf("anchor: %w", err)
		}
		base := tlog.StoredHashIndex(0, n)
		for i, sh := range hashes {
			if _, err := tx.ExecContext(ctx, `INSERT INTO anchor_hashes (idx, hash) VALUES (?, ?)`, base+int64(i), sh[:]); err != nil {
				return 0, err
			}
			rd.m[base+int64(i)] = sh
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO anchor_records (n, appliance, seq, text) VALUES (?, ?, ?, ?)`, n, name, h.id, text); err != nil {
			return 0, err
		}
		n++
	}
	return len(hs), tx.Commit()
}

// cachedReader reads hashes from m, else from the database.
type cachedReader struct {
	db hashReader
	m  map[int64]tlog.Hash
}

func (r cachedReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, ix := range indexes {
		h, ok := r.m[ix]
		if !ok {
			hs, err := r.db.ReadHashes([]int64{ix})
			if err != nil {
				return nil, err
			}
			h = hs[0]
			r.m[ix] = h
		}
		out[i] = h
	}
	return out, nil
}

// storeCheckpoint keeps a signed tree head, after checking that the log
// still gives the last one kept at or below its size: a log truncated or
// rewritten under the archive is not signed again.
func (l *Log) storeCheckpoint(ctx context.Context, size int64, hash tlog.Hash, signed []byte) error {
	if size == 0 {
		return nil
	}
	// A head kept at a larger size than this one: another front-end
	// appended since size was read, or the log was truncated. Records
	// are only appended, so the log holds at least that many now unless
	// it was truncated.
	var largest int64
	if err := l.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(size), 0) FROM anchor_checkpoints`).Scan(&largest); err != nil {
		return fmt.Errorf("anchor: checkpoints: %w", err)
	}
	if largest > size {
		now, err := l.Size(ctx)
		if err != nil {
			return err
		}
		if now < largest {
			return fmt.Errorf("%w: it holds %d records, a head was signed at size %d", ErrInconsistent, now, largest)
		}
	}
	var prevSize int64
	var prev []byte
	err := l.db.QueryRowContext(ctx, `SELECT size, note FROM anchor_checkpoints WHERE size <= ? ORDER BY size DESC LIMIT 1`, size).Scan(&prevSize, &prev)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return fmt.Errorf("anchor: checkpoints: %w", err)
	default:
		t, err := VerifyCheckpoint(l.vkey, prev)
		if err != nil {
			return fmt.Errorf("anchor: the checkpoint kept at size %d: %w", prevSize, err)
		}
		h, err := tlog.TreeHash(t.N, hashReader{ctx, l.db})
		if err != nil {
			return fmt.Errorf("anchor: %w", err)
		}
		if t.N != prevSize || h != t.Hash {
			return fmt.Errorf("%w: it no longer gives the tree head signed at size %d", ErrInconsistent, prevSize)
		}
	}
	_, err = l.db.ExecContext(ctx, `INSERT INTO anchor_checkpoints (size, note) VALUES (?, ?) ON CONFLICT DO NOTHING`, size, signed)
	return err
}

// Record is a record of the log.
type Record struct {
	N         int64
	Appliance string
	Seq       uint64
	Text      []byte
}

// Check is what CheckLog found: the log's records, and what is wrong
// with the log itself.
type Check struct {
	Records []Record
	// Signed is the size of the newest signed checkpoint whose tree head
	// the records give: records below it are as the archive signed them.
	Signed   int64
	Problems []string
}

// CheckLog recomputes the log's tree from its records and checks it
// against the stored hashes (which inclusion proofs are made of) and
// against every signed checkpoint kept, with the archive's verifier key.
func (l *Log) CheckLog(ctx context.Context) (*Check, error) {
	c := &Check{}
	rows, err := l.db.QueryContext(ctx, `SELECT n, appliance, seq, text FROM anchor_records ORDER BY n`)
	if err != nil {
		return nil, fmt.Errorf("anchor: %w", err)
	}
	for rows.Next() {
		var r Record
		if err := rows.Scan(&r.N, &r.Appliance, &r.Seq, &r.Text); err != nil {
			rows.Close()
			return nil, err
		}
		c.Records = append(c.Records, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var mem memHashes
	for i, r := range c.Records {
		if r.N != int64(i) {
			c.Problems = append(c.Problems, fmt.Sprintf("anchor log record %d missing", i))
			c.Records = c.Records[:i]
			break
		}
		hs, err := tlog.StoredHashes(r.N, r.Text, mem)
		if err != nil {
			return nil, fmt.Errorf("anchor: %w", err)
		}
		mem = append(mem, hs...)
	}
	size := int64(len(c.Records))
	// The stored hashes must be the ones the records give.
	hrows, err := l.db.QueryContext(ctx, `SELECT idx, hash FROM anchor_hashes ORDER BY idx`)
	if err != nil {
		return nil, fmt.Errorf("anchor: %w", err)
	}
	next := int64(0)
	for hrows.Next() {
		var idx int64
		var b []byte
		if err := hrows.Scan(&idx, &b); err != nil {
			hrows.Close()
			return nil, err
		}
		if idx >= int64(len(mem)) {
			break
		}
		if idx != next || string(b) != string(mem[idx][:]) {
			c.Problems = append(c.Problems, fmt.Sprintf("anchor log: stored hash %d missing or not the one its records give", next))
			break
		}
		next++
	}
	hrows.Close()
	if next < int64(len(mem)) && len(c.Problems) == 0 {
		c.Problems = append(c.Problems, fmt.Sprintf("anchor log: stored hash %d missing", next))
	}
	// Every signed checkpoint kept must be a head of this tree.
	crows, err := l.db.QueryContext(ctx, `SELECT size, note FROM anchor_checkpoints ORDER BY size`)
	if err != nil {
		return nil, fmt.Errorf("anchor: %w", err)
	}
	defer crows.Close()
	kept := 0
	for crows.Next() {
		var n int64
		var note []byte
		if err := crows.Scan(&n, &note); err != nil {
			return nil, err
		}
		kept++
		t, err := VerifyCheckpoint(l.vkey, note)
		switch {
		case err != nil:
			c.Problems = append(c.Problems, fmt.Sprintf("anchor log: checkpoint kept for size %d: %v", n, err))
			continue
		case t.N != n:
			c.Problems = append(c.Problems, fmt.Sprintf("anchor log: checkpoint kept for size %d is signed for size %d", n, t.N))
			continue
		case t.N > size:
			c.Problems = append(c.Problems, fmt.Sprintf("anchor log truncated: a checkpoint is signed at size %d, the log holds %d records", t.N, size))
			continue
		}
		h, err := tlog.TreeHash(t.N, mem)
		if err != nil {
			return nil, fmt.Errorf("anchor: %w", err)
		}
		if h != t.Hash {
			c.Problems = append(c.Problems, fmt.Sprintf("anchor log rewritten: its records do not give the tree head signed at size %d", t.N))
			continue
		}
		c.Signed = t.N
	}
	if err := crows.Err(); err != nil {
		return nil, err
	}
	if kept == 0 && size > 0 {
		c.Problems = append(c.Problems, fmt.Sprintf("anchor log: %d records and no signed checkpoint kept", size))
	}
	return c, nil
}

// memHashes is a tree's stored hashes in memory, by stored hash index.
type memHashes []tlog.Hash

func (m memHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, ix := range indexes {
		if ix < 0 || ix >= int64(len(m)) {
			return nil, fmt.Errorf("anchor: hash %d not in the log", ix)
		}
		out[i] = m[ix]
	}
	return out, nil
}

package anchor

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/spanvault/spanvault/archive/index"
)

// AppendBatch adds records in one transaction, in order, and returns the
// index of the first (a box's coverage ledger and the recordings it
// lists go in together).
func (l *Log) AppendBatch(ctx context.Context, rs []Record) (int64, error) {
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
	n, _, err := readHead(ctx, tx, nil)
	if err != nil {
		return 0, err
	}
	first := n
	rd := cachedReader{hashReader{ctx, tx}, map[int64]tlog.Hash{}}
	for _, r := range rs {
		hashes, err := tlog.StoredHashes(n, r.Text, rd)
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
		if _, err := tx.ExecContext(ctx, `INSERT INTO anchor_records (n, appliance, seq, text) VALUES (?, ?, ?, ?)`, n, r.Appliance, r.Seq, r.Text); err != nil {
			return 0, err
		}
		n++
	}
	return first, tx.Commit()
}

// RecordAt returns record n of the log.
func (l *Log) RecordAt(ctx context.Context, n int64) (Record, error) {
	r := Record{N: n}
	err := l.db.QueryRowContext(ctx, `SELECT appliance, seq, text FROM anchor_records WHERE n = ?`, n).Scan(&r.Appliance, &r.Seq, &r.Text)
	if err != nil {
		return r, fmt.Errorf("anchor: record %d: %w", n, err)
	}
	return r, nil
}

// Find returns the newest record under the name with exactly this text;
// ok is false when there is none.
func (l *Log) Find(ctx context.Context, name string, text []byte) (n int64, ok bool, err error) {
	err = l.db.QueryRowContext(ctx, `SELECT n FROM anchor_records WHERE appliance = ? AND text = ? ORDER BY n DESC LIMIT 1`, name, text).Scan(&n)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, false, nil
	case err != nil:
		return 0, false, fmt.Errorf("anchor: %w", err)
	}
	return n, true, nil
}

// Last returns the newest record under the name; ok is false when there
// is none.
func (l *Log) Last(ctx context.Context, name string) (Record, bool, error) {
	var r Record
	err := l.db.QueryRowContext(ctx, `SELECT n, appliance, seq, text FROM anchor_records WHERE appliance = ? ORDER BY n DESC LIMIT 1`, name).Scan(&r.N, &r.Appliance, &r.Seq, &r.Text)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return r, false, nil
		}
		return r, false, fmt.Errorf("anchor: %w", err)
	}
	return r, true, nil
}

package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Migration 16: the boxes' coverage ledgers (record/ledger), one per box
// and day, kept byte for byte as signed, with the anchor log record that
// holds each (-1 until it is appended), and an index of the log's records
// by name (a recording's record is looked up for its evidence bundle).
func init() {
	register(16, "coverage ledgers", `
CREATE TABLE IF NOT EXISTS ledgers (
	appliance TEXT NOT NULL,
	day TEXT NOT NULL,
	hash TEXT NOT NULL,
	signed BLOB NOT NULL,
	anchor_n INTEGER NOT NULL DEFAULT -1,
	received_at TEXT NOT NULL,
	PRIMARY KEY (appliance, day)
);
CREATE INDEX IF NOT EXISTS anchor_records_name ON anchor_records (appliance, seq);
`)
}

// Ledger is a box's coverage ledger of a day as the archive holds it.
type Ledger struct {
	Appliance  string
	Day        string
	Hash       string // ledger.Hash of the signed bytes
	Signed     []byte // the ledger.Signed message as received
	AnchorN    int64  // its record in the anchor log; -1 until appended
	ReceivedAt time.Time
}

// ErrLedgerDiffers: a ledger for that box and day is held already, with
// other content.
var ErrLedgerDiffers = errors.New("index: a different ledger for that day is held already")

// PutLedger keeps a ledger. The same ledger again is no change (held is
// the one kept, with its anchor record); another for the same day is
// ErrLedgerDiffers.
func (x *Index) PutLedger(ctx context.Context, l Ledger) (held Ledger, err error) {
	if _, err := x.db.ExecContext(ctx, `INSERT INTO ledgers (appliance, day, hash, signed, anchor_n, received_at) VALUES (?, ?, ?, ?, -1, ?) ON CONFLICT (appliance, day) DO NOTHING`,
		l.Appliance, l.Day, l.Hash, l.Signed, ts(l.ReceivedAt)); err != nil {
		return held, fmt.Errorf("index: ledger: %w", err)
	}
	h, ok, err := x.LedgerOf(ctx, l.Appliance, l.Day)
	if err != nil {
		return held, err
	}
	if !ok {
		return held, fmt.Errorf("index: ledger of %s %s not kept", l.Appliance, l.Day)
	}
	if h.Hash != l.Hash {
		return h, ErrLedgerDiffers
	}
	return h, nil
}

// SetLedgerAnchor records the anchor log record of a ledger.
func (x *Index) SetLedgerAnchor(ctx context.Context, appliance, day string, n int64) error {
	_, err := x.db.ExecContext(ctx, `UPDATE ledgers SET anchor_n = ? WHERE appliance = ? AND day = ?`, n, appliance, day)
	return err
}

// LedgerOf returns the ledger of a box and day.
func (x *Index) LedgerOf(ctx context.Context, appliance, day string) (Ledger, bool, error) {
	ls, err := x.ledgers(ctx, `WHERE appliance = ? AND day = ?`, appliance, day)
	if err != nil || len(ls) == 0 {
		return Ledger{}, false, err
	}
	return ls[0], true, nil
}

// Ledgers returns every ledger held, by box and day.
func (x *Index) Ledgers(ctx context.Context) ([]Ledger, error) {
	return x.ledgers(ctx, ``)
}

func (x *Index) ledgers(ctx context.Context, where string, args ...any) ([]Ledger, error) {
	rows, err := x.db.QueryContext(ctx, `SELECT appliance, day, hash, signed, anchor_n, received_at FROM ledgers `+where+` ORDER BY appliance, day`, args...)
	if err != nil {
		return nil, fmt.Errorf("index: ledgers: %w", err)
	}
	defer rows.Close()
	var out []Ledger
	for rows.Next() {
		var l Ledger
		var at string
		if err := rows.Scan(&l.Appliance, &l.Day, &l.Hash, &l.Signed, &l.AnchorN, &at); err != nil {
			return nil, err
		}
		l.ReceivedAt = parseTS(at)
		out = append(out, l)
	}
	if err := rows.Err(); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	return out, nil
}

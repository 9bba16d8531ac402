package index

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Event is an entry of the archive's own audit trail: refusals, ingests,
// commands, anchoring, alerts. Entries are hash-chained (each hashes its
// content and the previous entry's hash).
type Event struct {
	ID        int64     `json:"id"`
	Time      time.Time `json:"time"`
	Kind      string    `json:"kind"`
	Actor     string    `json:"actor,omitempty"`
	Appliance string    `json:"appliance,omitempty"`
	Detail    string    `json:"detail,omitempty"`
	Alert     bool      `json:"alert,omitempty"`
	Prev      string    `json:"prev"`
	Hash      string    `json:"hash"`
}

func (e *Event) hash() string {
	h := sha256.New()
	fmt.Fprintf(h, "%d\x00%s\x00%s\x00%s\x00%s\x00%s\x00%v\x00%s", e.ID, ts(e.Time), e.Kind, e.Actor, e.Appliance, e.Detail, e.Alert, e.Prev)
	return hex.EncodeToString(h.Sum(nil))
}

// AddEvent appends to the archive's audit trail.
func (x *Index) AddEvent(ctx context.Context, e Event) (Event, error) {
	tx, err := x.db.BeginTx(ctx, nil)
	if err != nil {
		return e, err
	}
	defer tx.Rollback()
	if err := x.appendEvent(ctx, tx, &e); err != nil {
		return e, err
	}
	return e, tx.Commit()
}

// appendEvent appends e to the trail within tx (taking the trail's lock)
// and fills in its ID, time and hashes.
func (x *Index) appendEvent(ctx context.Context, tx *Tx, e *Event) error {
	if err := tx.Serialize(ctx, LockEvents); err != nil {
		return err
	}
	var prev string
	var last int64
	err := tx.QueryRowContext(ctx, `SELECT id, hash FROM events ORDER BY id DESC LIMIT 1`).Scan(&last, &prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	e.ID, e.Prev = last+1, prev
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC()
	e.Hash = e.hash()
	_, err = tx.ExecContext(ctx, `INSERT INTO events (id, time, kind, actor, appliance, detail, alert, prev, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, ts(e.Time), e.Kind, e.Actor, e.Appliance, e.Detail, e.Alert, e.Prev, e.Hash)
	return err
}

// Events lists the trail, optionally only alerts or one kind.
func (x *Index) Events(ctx context.Context, kind string, alertsOnly bool) ([]Event, error) {
	q := `SELECT id, time, kind, actor, appliance, detail, alert, prev, hash FROM events WHERE (kind = ? OR ? = '')`
	if alertsOnly {
		q += ` AND alert`
	}
	rows, err := x.db.QueryContext(ctx, q+` ORDER BY id`, kind, kind)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var t string
		if err := rows.Scan(&e.ID, &t, &e.Kind, &e.Actor, &e.Appliance, &e.Detail, &e.Alert, &e.Prev, &e.Hash); err != nil {
			return nil, err
		}
		e.Time = parseTS(t)
		out = append(out, e)
	}
	return out, rows.Err()
}

// VerifyEvents checks the archive's own chain; it names the first bad entry.
func (x *Index) VerifyEvents(ctx context.Context) (int, error) {
	es, err := x.Events(ctx, "", false)
	if err != nil {
		return 0, err
	}
	prev := ""
	for i, e := range es {
		if e.ID != int64(i+1) || e.Prev != prev || e.hash() != e.Hash {
			return i, fmt.Errorf("index: archive audit trail broken at entry %d", e.ID)
		}
		prev = e.Hash
	}
	return len(es), nil
}

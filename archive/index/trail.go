package index

import (
	"context"
	"fmt"
	"time"
)

// The archive's trail and the tables beside it. A row of accesses is
// written in one transaction with its entry in the hash-chained trail
// (kind "access", detail "accesses row N: ACTION APPLIANCE/RECORDING"),
// so that neither exists without the other; the archive's verify finds a
// row deleted or altered behind the trail's back. Rows written before
// this (migration 5) have no entry: trail_legacy keeps the last of them.
//
// anchor_checkpoints keeps every tree head of the anchor log the archive
// signed (package anchor), so that verify can check the log's records
// against a signature an index writer cannot make.
func init() {
	register(5, "trail: signed checkpoints, accesses in the chained trail", `
CREATE TABLE IF NOT EXISTS anchor_checkpoints (
	size INTEGER PRIMARY KEY,
	note BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS trail_legacy (
	name TEXT PRIMARY KEY,
	last_id INTEGER NOT NULL
);
INSERT INTO trail_legacy (name, last_id) SELECT 'accesses', COALESCE(MAX(id), 0) FROM accesses
`)
}

// EventAccess is the kind of the trail entry written with each row of
// accesses.
const EventAccess = "access"

// AccessDetail is the detail of the trail entry of accesses row id.
func AccessDetail(id int64, action, appliance, recording string) string {
	return fmt.Sprintf("accesses row %d: %s %s/%s", id, action, appliance, recording)
}

// AddAccess notes that name (a user, or "link:ID") viewed, played,
// exported or streamed a recording: a row of accesses and its entry in
// the trail, in one transaction.
func (x *Index) AddAccess(ctx context.Context, at time.Time, name, action, appliance, recording string) (Event, error) {
	tx, err := x.db.BeginTx(ctx, nil)
	if err != nil {
		return Event{}, err
	}
	defer tx.Rollback()
	e, err := x.AddAccessTx(ctx, tx, at, name, action, appliance, recording, "")
	if err != nil {
		return e, err
	}
	return e, tx.Commit()
}

// AddAccessTx is AddAccess inside the caller's transaction (the access
// service admits audio and records it in one); via names the streaming
// link an access went through ("" for none).
func (x *Index) AddAccessTx(ctx context.Context, tx *Tx, at time.Time, name, action, appliance, recording, via string) (Event, error) {
	e := Event{Time: at, Kind: EventAccess, Actor: name, Appliance: appliance}
	var id int64
	if err := tx.QueryRowContext(ctx, `INSERT INTO accesses (time, name, action, appliance, recording, via) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
		ts(at), name, action, appliance, recording, via).Scan(&id); err != nil {
		return e, fmt.Errorf("index: access: %w", err)
	}
	e.Detail = AccessDetail(id, action, appliance, recording)
	if err := x.appendEvent(ctx, tx, &e); err != nil {
		return e, fmt.Errorf("index: access: %w", err)
	}
	return e, nil
}

// LegacyAccesses is the last row of accesses written before rows had an
// entry in the trail (0: none).
func (x *Index) LegacyAccesses(ctx context.Context) (int64, error) {
	var n int64
	err := x.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(last_id), 0) FROM trail_legacy WHERE name = 'accesses'`).Scan(&n)
	return n, err
}

// EventIntact reports whether an entry's hash is the hash of its content
// and its link to the previous entry.
func EventIntact(e *Event) bool { return e.hash() == e.Hash }

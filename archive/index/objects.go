package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Migration 3: who owns each stored object. An object (a sealed file, by
// its SHA-256) belongs to the box whose upload completed it first; only
// that box may name it in a record. Objects already named by records
// when the migration runs go to the box whose record arrived first.
func init() {
	register(3, "object owners", `
CREATE TABLE IF NOT EXISTS objects (
	sha256 TEXT PRIMARY KEY,
	appliance TEXT NOT NULL,
	size INTEGER NOT NULL,
	at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS objects_appliance ON objects (appliance);
INSERT INTO objects (sha256, appliance, size, at)
	SELECT r.sha256, r.appliance, r.size, r.received_at FROM records r
	WHERE r.kind = 'recording' AND r.sha256 <> '' AND NOT EXISTS (
		SELECT 1 FROM records o WHERE o.kind = 'recording' AND o.sha256 = r.sha256 AND (o.received_at < r.received_at
			OR (o.received_at = r.received_at AND (o.appliance < r.appliance OR (o.appliance = r.appliance AND o.id < r.id)))))
`)
}

// ObjectOwner returns the appliance that owns the object sum, or "" when
// no box does.
func (x *Index) ObjectOwner(ctx context.Context, sum string) (string, error) {
	var owner string
	err := x.db.QueryRowContext(ctx, `SELECT appliance FROM objects WHERE sha256 = ?`, sum).Scan(&owner)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("index: owner of %s: %w", sum, err)
	}
	return owner, nil
}

// ClaimObject makes appliance the owner of sum unless a box owns it
// already, and returns the owner (appliance, or the box that was first).
func (x *Index) ClaimObject(ctx context.Context, sum, appliance string, size int64, at time.Time) (string, error) {
	if _, err := x.db.ExecContext(ctx, `INSERT INTO objects (sha256, appliance, size, at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`, sum, appliance, size, ts(at)); err != nil {
		return "", fmt.Errorf("index: claim %s: %w", sum, err)
	}
	return x.ObjectOwner(ctx, sum)
}

// HoldCommanded reports whether the archive's last hold or release
// command for an appliance's recording was a hold.
func (x *Index) HoldCommanded(ctx context.Context, appliance, id string) (bool, error) {
	var kind string
	err := x.db.QueryRowContext(ctx, `SELECT kind FROM commands WHERE appliance = ? AND recording = ? AND kind IN ('hold', 'release') ORDER BY id DESC LIMIT 1`, appliance, id).Scan(&kind)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("index: hold of %s/%s: %w", appliance, id, err)
	}
	return kind == "hold", nil
}

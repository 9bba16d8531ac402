package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Migration 9: how each stored object is sealed. hybrid is 1 when every
// stanza of its age header is post-quantum (mlkem768x25519), 0 when it is
// classical-only (X25519); an object without a row was stored before the
// archive looked, and counts as classical-only until verify or the
// re-seal job reads it. A re-sealed object (its header re-wrapped to a
// hybrid recipient: the stored file no longer hashes to its address)
// keeps the SHA-256 of its new header and the SHA-256 state after the
// box's original header (midstate, hex of the standard library's
// marshalled state): fed the payload, that state still gives the
// address, so verify proves the payload is the box's bytes.
func init() {
	register(9, "sealing: hybrid or classical, re-sealed headers", `
CREATE TABLE IF NOT EXISTS sealing (
	sha256 TEXT PRIMARY KEY,
	hybrid INTEGER NOT NULL,
	header_sha256 TEXT NOT NULL DEFAULT '',
	midstate TEXT NOT NULL DEFAULT '',
	resealed_at TEXT NOT NULL DEFAULT ''
);
`)
}

// NoteSealing records whether the object sum is sealed to hybrid
// post-quantum recipients only.
func (x *Index) NoteSealing(ctx context.Context, sum string, hybrid bool) error {
	if _, err := x.db.ExecContext(ctx, `INSERT INTO sealing (sha256, hybrid) VALUES (?, ?)
		ON CONFLICT (sha256) DO UPDATE SET hybrid = excluded.hybrid`, sum, boolInt(hybrid)); err != nil {
		return fmt.Errorf("index: sealing of %s: %w", sum, err)
	}
	return nil
}

// Resealed records that the object sum's header was re-wrapped to hybrid
// recipients: its new header's SHA-256 and the SHA-256 state after the
// original header.
func (x *Index) Resealed(ctx context.Context, sum, headerSHA256, midstate string, at time.Time) error {
	if _, err := x.db.ExecContext(ctx, `INSERT INTO sealing (sha256, hybrid, header_sha256, midstate, resealed_at) VALUES (?, 1, ?, ?, ?)
		ON CONFLICT (sha256) DO UPDATE SET hybrid = 1, header_sha256 = excluded.header_sha256, midstate = excluded.midstate, resealed_at = excluded.resealed_at`,
		sum, headerSHA256, midstate, ts(at)); err != nil {
		return fmt.Errorf("index: resealed %s: %w", sum, err)
	}
	return nil
}

// Resealing returns a re-sealed object's new header hash and the state
// after its original header; ok is false for an object never re-sealed.
func (x *Index) Resealing(ctx context.Context, sum string) (headerSHA256, midstate string, ok bool, err error) {
	err = x.db.QueryRowContext(ctx, `SELECT header_sha256, midstate FROM sealing WHERE sha256 = ? AND midstate <> ''`, sum).Scan(&headerSHA256, &midstate)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, fmt.Errorf("index: resealing of %s: %w", sum, err)
	}
	return headerSHA256, midstate, true, nil
}

// ClassicalOnly counts, per appliance, the live recordings whose object
// is not known to be sealed to hybrid recipients only.
func (x *Index) ClassicalOnly(ctx context.Context) (map[string]int, error) {
	rows, err := x.db.QueryContext(ctx, `SELECT r.appliance, COUNT(*) FROM records r
		WHERE r.kind = 'recording' AND r.deleted_at = '' AND r.sha256 <> ''
		AND NOT EXISTS (SELECT 1 FROM sealing s WHERE s.sha256 = r.sha256 AND s.hybrid = 1)
		GROUP BY r.appliance`)
	if err != nil {
		return nil, fmt.Errorf("index: classical-only count: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var a string
		var n int
		if err := rows.Scan(&a, &n); err != nil {
			return nil, err
		}
		out[a] = n
	}
	return out, rows.Err()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// SealedMetadata is a record's sealed personal metadata and subject (age
// files the box sealed to the archive's recipients).
type SealedMetadata struct {
	Appliance, ID, Kind string
	Sealed, Subject     []byte
}

// SealedMetadataAfter lists up to n records holding sealed metadata or a
// sealed subject, in key order after the given one (zero: from the
// start).
func (x *Index) SealedMetadataAfter(ctx context.Context, after SealedMetadata, n int) ([]SealedMetadata, error) {
	rows, err := x.db.QueryContext(ctx, `SELECT appliance, id, kind, sealed, subject FROM records
		WHERE (sealed IS NOT NULL OR subject IS NOT NULL)
		AND (appliance > ? OR (appliance = ? AND (id > ? OR (id = ? AND kind > ?))))
		ORDER BY appliance, id, kind LIMIT ?`, after.Appliance, after.Appliance, after.ID, after.ID, after.Kind, n)
	if err != nil {
		return nil, fmt.Errorf("index: sealed metadata: %w", err)
	}
	defer rows.Close()
	var out []SealedMetadata
	for rows.Next() {
		var m SealedMetadata
		if err := rows.Scan(&m.Appliance, &m.ID, &m.Kind, &m.Sealed, &m.Subject); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// ResealMetadata replaces a record's sealed metadata (subject false) or
// sealed subject (subject true) by its re-sealed form, unless it changed
// since it was read (an erasure dropping it meanwhile stays dropped).
func (x *Index) ResealMetadata(ctx context.Context, m SealedMetadata, subject bool, old, resealed []byte) error {
	q := `UPDATE records SET sealed = ? WHERE appliance = ? AND id = ? AND kind = ? AND sealed = ?`
	if subject {
		q = `UPDATE records SET subject = ? WHERE appliance = ? AND id = ? AND kind = ? AND subject = ?`
	}
	if _, err := x.db.ExecContext(ctx, q, resealed, m.Appliance, m.ID, m.Kind, old); err != nil {
		return fmt.Errorf("index: reseal metadata of %s/%s: %w", m.Appliance, m.ID, err)
	}
	return nil
}

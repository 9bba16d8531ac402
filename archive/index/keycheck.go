package index

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// KeyCheck is the stored key check of the access service's identity: a
// value derived from the identity's key material (package keyring) that
// tells whether a keyring derives the blind index and link keys the
// index was written with, and the identity's public key to name it.
type KeyCheck struct {
	Value     string
	Recipient string
	Source    string // where the identity came from when it was stored
	SetAt     time.Time
}

const keyCheckName = "archive identity"

// KeyCheck returns the stored key check (false when none is stored: an
// index the access service never served with an identity, or one from
// before key checks).
func (x *Index) KeyCheck(ctx context.Context) (KeyCheck, bool, error) {
	var c KeyCheck
	var at string
	err := x.db.QueryRowContext(ctx, `SELECT value, recipient, source, set_at FROM key_checks WHERE name = ?`, keyCheckName).Scan(&c.Value, &c.Recipient, &c.Source, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return c, false, nil
	}
	c.SetAt = parseTS(at)
	return c, err == nil, err
}

// SetKeyCheck stores the key check if none is stored yet. When the blind
// index holds terms (written before key checks, perhaps under keys derived
// another way), it is rebuilt in the same transaction: every term is
// dropped and every record queued for the blind indexer again (the clear
// facts stay: they do not depend on a key). It reports
// whether it stored the check (false: another front-end stored one first)
// and whether it dropped terms.
func (x *Index) SetKeyCheck(ctx context.Context, c KeyCheck) (stored, rebuilt bool, err error) {
	tx, err := x.db.BeginTx(ctx, nil)
	if err != nil {
		return false, false, err
	}
	defer tx.Rollback()
	if err := tx.Serialize(ctx, LockSchema); err != nil {
		return false, false, err
	}
	r, err := tx.ExecContext(ctx, `INSERT INTO key_checks (name, value, recipient, source, set_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		keyCheckName, c.Value, c.Recipient, c.Source, ts(c.SetAt))
	if err != nil {
		return false, false, err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return false, false, nil
	}
	var terms int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM search_terms LIMIT 1) t`).Scan(&terms); err != nil {
		return false, false, err
	}
	if terms > 0 {
		for _, q := range []string{
			`DELETE FROM search_terms`,
			`INSERT INTO search_queue (appliance, id, kind) SELECT appliance, id, kind FROM records WHERE 1 = 1 ON CONFLICT DO NOTHING`,
		} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return false, false, err
			}
		}
	}
	return true, terms > 0, tx.Commit()
}

// SealedSample returns up to n records' sealed metadata (to tell whether
// an identity opens this archive's metadata).
func (x *Index) SealedSample(ctx context.Context, n int) ([][]byte, error) {
	rows, err := x.db.QueryContext(ctx, `SELECT sealed FROM records WHERE sealed IS NOT NULL ORDER BY received_at DESC LIMIT ?`, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		if len(b) > 0 {
			out = append(out, b)
		}
	}
	return out, rows.Err()
}

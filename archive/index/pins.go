package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Migration 4: revocation that sticks, keys from key material.
//
//   - appliances.cert_serial, cert_key: the certificate a box is pinned to
//     (its serial in hex, the SHA-256 of its public key); every request
//     must present it. Empty on rows from before pinning began: the first
//     certificate of the archive's CA the box presents is pinned then.
//   - appliances.cert_prev: the serial the pinned certificate renewed,
//     which may renew again (a renewal whose reply was lost) until the
//     pinned one is first used; then it is retired.
//   - appliances.enrol_epoch: 1 at enrolment, one more at each explicit
//     replacement (enroll -replace); 0 on rows from before.
//   - revoked_serials: certificates refused for good, whatever the name's
//     state: revoked, replaced, retired by renewal.
//   - key_checks: the access service's key check value (package keyring),
//     so that a service started with another identity refuses to start.
func init() {
	register(4, "certificate pins, revoked serials, key check", `
ALTER TABLE appliances ADD COLUMN cert_serial TEXT NOT NULL DEFAULT '';
ALTER TABLE appliances ADD COLUMN cert_key TEXT NOT NULL DEFAULT '';
ALTER TABLE appliances ADD COLUMN cert_prev TEXT NOT NULL DEFAULT '';
ALTER TABLE appliances ADD COLUMN enrol_epoch INTEGER NOT NULL DEFAULT 0;
CREATE TABLE IF NOT EXISTS revoked_serials (
	serial TEXT PRIMARY KEY,
	appliance TEXT NOT NULL,
	revoked_at TEXT NOT NULL,
	reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS key_checks (
	name TEXT PRIMARY KEY,
	value TEXT NOT NULL,
	recipient TEXT NOT NULL,
	source TEXT NOT NULL,
	set_at TEXT NOT NULL
)`)
}

// ErrEnrolled: the name is enrolled already (re-enrolling is a
// replacement).
var ErrEnrolled = errors.New("index: appliance already enrolled")

// ErrPinMoved: the certificate a renewal started from is no longer the
// pinned one (renewed or replaced meanwhile).
var ErrPinMoved = errors.New("index: the appliance's pinned certificate changed meanwhile")

// Pin is the certificate an appliance is pinned to.
type Pin struct {
	Serial string // hex; "" on a row from before pinning began
	Key    string // SHA-256 (hex) of the certificate's public key
	Prev   string // the serial Serial renewed, until Serial is first used
	Epoch  int64
}

// Pin returns an appliance's pinned certificate.
func (x *Index) Pin(ctx context.Context, name string) (Pin, error) {
	var p Pin
	err := x.db.QueryRowContext(ctx, `SELECT cert_serial, cert_key, cert_prev, enrol_epoch FROM appliances WHERE name = ?`, name).Scan(&p.Serial, &p.Key, &p.Prev, &p.Epoch)
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("%w: %s", ErrUnknown, name)
	}
	return p, err
}

// SerialRevoked reports whether a certificate serial is refused for good,
// and why.
func (x *Index) SerialRevoked(ctx context.Context, serial string) (reason string, revoked bool, err error) {
	err = x.db.QueryRowContext(ctx, `SELECT reason FROM revoked_serials WHERE serial = ?`, serial).Scan(&reason)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return reason, err == nil, err
}

// EnrollPinned adds a new appliance pinned to its first certificate
// (epoch 1). An enrolled name is ErrEnrolled: re-enrolling is Replace.
func (x *Index) EnrollPinned(ctx context.Context, name string, p Pin, at time.Time) error {
	r, err := x.db.ExecContext(ctx, `INSERT INTO appliances (name, enrolled_at, cert_serial, cert_key, enrol_epoch) VALUES (?, ?, ?, ?, 1) ON CONFLICT(name) DO NOTHING`,
		name, ts(at), p.Serial, p.Key)
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: %s", ErrEnrolled, name)
	}
	return nil
}

// PinFirst pins a certificate on an appliance that has none pinned yet (a
// row from before pinning began). It reports false when one is pinned
// already (another request was first).
func (x *Index) PinFirst(ctx context.Context, name, serial, key string) (bool, error) {
	r, err := x.db.ExecContext(ctx, `UPDATE appliances SET cert_serial = ?, cert_key = ? WHERE name = ? AND cert_serial = ''`, serial, key, name)
	if err != nil {
		return false, err
	}
	n, _ := r.RowsAffected()
	return n == 1, nil
}

// RevokedBeforePinning reports whether the archive's trail holds a
// revocation of name: a name revoked (and re-enrolled) before pinning
// began has no certificate that can be trusted on first use.
func (x *Index) RevokedBeforePinning(ctx context.Context, name string) (bool, error) {
	var n int
	err := x.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM events WHERE kind = 'revoke' AND appliance = ?`, name).Scan(&n)
	return n > 0, err
}

// UsePin records that the pinned certificate serial was used: the
// certificate it renewed, if still allowed to renew, is retired for good.
// It returns the retired serial ("" when none).
func (x *Index) UsePin(ctx context.Context, name, serial string, at time.Time) (string, error) {
	tx, err := x.db.BeginTx(ctx, nil)
	if err != nil {
		return "", err
	}
	defer tx.Rollback()
	var prev string
	if err := tx.QueryRowContext(ctx, `SELECT cert_prev FROM appliances WHERE name = ? AND cert_serial = ?`, name, serial).Scan(&prev); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return "", nil
		}
		return "", err
	}
	if prev == "" {
		return "", nil
	}
	if err := revokeSerial(ctx, tx, prev, name, "retired: renewed as "+serial, at); err != nil {
		return "", err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE appliances SET cert_prev = '' WHERE name = ? AND cert_serial = ? AND cert_prev = ?`, name, serial, prev); err != nil {
		return "", err
	}
	return prev, tx.Commit()
}

// Renewed pins the certificate a renewal issued. from is the certificate
// the request came with: the pinned one (it becomes Prev, which may renew
// again until the new one is used), or Prev itself (a renewal whose reply
// was lost: the certificate issued then, never used, is revoked). Any
// other is ErrPinMoved. It returns the serials revoked.
func (x *Index) Renewed(ctx context.Context, name, from string, to Pin, at time.Time) ([]string, error) {
	tx, err := x.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	var cur Pin
	if err := tx.QueryRowContext(ctx, `SELECT cert_serial, cert_prev FROM appliances WHERE name = ?`, name).Scan(&cur.Serial, &cur.Prev); err != nil {
		return nil, err
	}
	var revoked []string
	switch {
	case from == "":
		return nil, ErrPinMoved
	case from == cur.Serial:
		if cur.Prev != "" {
			if err := revokeSerial(ctx, tx, cur.Prev, name, "retired: renewed as "+from, at); err != nil {
				return nil, err
			}
			revoked = append(revoked, cur.Prev)
		}
	case from == cur.Prev:
		if err := revokeSerial(ctx, tx, cur.Serial, name, "issued at a renewal whose reply was lost: issued again as "+to.Serial, at); err != nil {
			return nil, err
		}
		revoked = append(revoked, cur.Serial)
	default:
		return nil, ErrPinMoved
	}
	r, err := tx.ExecContext(ctx, `UPDATE appliances SET cert_serial = ?, cert_key = ?, cert_prev = ? WHERE name = ? AND cert_serial = ? AND cert_prev = ?`,
		to.Serial, to.Key, from, name, cur.Serial, cur.Prev)
	if err != nil {
		return nil, err
	}
	if n, _ := r.RowsAffected(); n != 1 {
		return nil, ErrPinMoved
	}
	return revoked, tx.Commit()
}

// RevokeCerts revokes an appliance: its name, and every serial pinned to
// it, for good. It returns the serials revoked.
func (x *Index) RevokeCerts(ctx context.Context, name, reason string, at time.Time) ([]string, error) {
	tx, err := x.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	serials, err := pinnedSerials(ctx, tx, name)
	if err != nil {
		return nil, err
	}
	for _, s := range serials {
		if err := revokeSerial(ctx, tx, s, name, "revoked: "+reason, at); err != nil {
			return nil, err
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE appliances SET revoked_at = ?, revoke_reason = ? WHERE name = ?`, ts(at), reason, name); err != nil {
		return nil, err
	}
	return serials, tx.Commit()
}

// Replace re-enrols an appliance for a replacement box: every serial
// pinned to it is revoked for good, the epoch goes up by one, the new
// certificate is pinned, a revocation of the name is lifted, and the
// audit key and anchored head are reset (the new box's key is pinned at
// its first audit upload); the old box's stored audit entries are kept
// under NAME~EPOCH (not a valid appliance name). It returns the new epoch
// and the serials revoked.
func (x *Index) Replace(ctx context.Context, name string, p Pin, reason string, at time.Time) (int64, []string, error) {
	tx, err := x.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, nil, err
	}
	defer tx.Rollback()
	var epoch int64
	err = tx.QueryRowContext(ctx, `SELECT enrol_epoch FROM appliances WHERE name = ?`, name).Scan(&epoch)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil, fmt.Errorf("%w: %s", ErrUnknown, name)
	}
	if err != nil {
		return 0, nil, err
	}
	serials, err := pinnedSerials(ctx, tx, name)
	if err != nil {
		return 0, nil, err
	}
	for _, s := range serials {
		if err := revokeSerial(ctx, tx, s, name, fmt.Sprintf("replaced (epoch %d): %s", epoch+1, reason), at); err != nil {
			return 0, nil, err
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE audit_entries SET appliance = ? WHERE appliance = ?`, fmt.Sprintf("%s~%d", name, epoch), name); err != nil {
		return 0, nil, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE appliances SET cert_serial = ?, cert_key = ?, cert_prev = '', enrol_epoch = ?, enrolled_at = ?, revoked_at = '', revoke_reason = '',
		audit_key = NULL, anchored_seq = 0, anchored_hash = '' WHERE name = ?`, p.Serial, p.Key, epoch+1, ts(at), name); err != nil {
		return 0, nil, err
	}
	return epoch + 1, serials, tx.Commit()
}

func pinnedSerials(ctx context.Context, tx *Tx, name string) ([]string, error) {
	var p Pin
	err := tx.QueryRowContext(ctx, `SELECT cert_serial, cert_prev FROM appliances WHERE name = ?`, name).Scan(&p.Serial, &p.Prev)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", ErrUnknown, name)
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range []string{p.Serial, p.Prev} {
		if s != "" {
			out = append(out, s)
		}
	}
	return out, nil
}

func revokeSerial(ctx context.Context, tx *Tx, serial, name, reason string, at time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO revoked_serials (serial, appliance, revoked_at, reason) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`, serial, name, ts(at), reason)
	return err
}

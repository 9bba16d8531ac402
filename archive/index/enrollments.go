package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Migration 14: zero-touch enrollment and central policy.
//
//   - enrollments: a new box's request for certificates, keyed by its
//     enrollment code (derived from its sync key, wire.EnrollCode):
//     pending until approved (name, certificates) or expired. The CSRs
//     are base64 DER; the certificates are issued at approval and handed
//     out at the box's next request.
//   - policies: signed, versioned policy documents per box ("box:NAME")
//     or per group ("group:NAME"); the newest version of a target is the
//     one in force.
//   - appliances.policy_group: the group a box takes its policy from
//     when it has none of its own; policy_version, policy_refused: what
//     the box reported at its last check-in (the version applied, and
//     the reason of its last refusal).
func init() {
	register(14, "enrollments and policies", `
CREATE TABLE IF NOT EXISTS enrollments (
	code TEXT PRIMARY KEY,
	csr TEXT NOT NULL,
	api_csr TEXT NOT NULL,
	hosts TEXT NOT NULL DEFAULT '',
	source TEXT NOT NULL DEFAULT '',
	requested_at TEXT NOT NULL,
	expires_at TEXT NOT NULL,
	name TEXT NOT NULL DEFAULT '',
	approved_at TEXT NOT NULL DEFAULT '',
	approved_by TEXT NOT NULL DEFAULT '',
	cert TEXT NOT NULL DEFAULT '',
	api_cert TEXT NOT NULL DEFAULT '',
	filed_by TEXT NOT NULL DEFAULT '',
	filed_name TEXT NOT NULL DEFAULT '',
	filed_replace TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS enrollments_expires ON enrollments (expires_at);
CREATE TABLE IF NOT EXISTS policies (
	target TEXT NOT NULL,
	version INTEGER NOT NULL,
	doc TEXT NOT NULL,
	set_at TEXT NOT NULL,
	set_by TEXT NOT NULL,
	PRIMARY KEY (target, version)
);
CREATE UNIQUE INDEX IF NOT EXISTS policies_version ON policies (version);
ALTER TABLE appliances ADD COLUMN policy_group TEXT NOT NULL DEFAULT '';
ALTER TABLE appliances ADD COLUMN policy_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE appliances ADD COLUMN policy_refused TEXT NOT NULL DEFAULT ''`)
}

// Enrollment is a box's request for certificates.
type Enrollment struct {
	Code        string
	CSR, APICSR string // base64 DER
	Hosts       string // comma-separated
	Source      string // the address it came from
	RequestedAt time.Time
	ExpiresAt   time.Time
	Name        string // set at approval
	ApprovedAt  time.Time
	ApprovedBy  string
	Cert        string // base64 DER, set at approval
	APICert     string
	// FiledBy, FiledName, FiledReplace: under four-eyes, the first
	// admin's approval, which a second one confirms.
	FiledBy, FiledName, FiledReplace string
}

// ErrNoEnrollment: no request has that code.
var ErrNoEnrollment = errors.New("index: no enrollment request with that code")

// Enrollment returns the request with a code (ErrNoEnrollment).
func (x *Index) Enrollment(ctx context.Context, code string) (*Enrollment, error) {
	e := &Enrollment{Code: code}
	var req, exp, appr string
	err := x.db.QueryRowContext(ctx, `SELECT csr, api_csr, hosts, source, requested_at, expires_at, name, approved_at, approved_by, cert, api_cert, filed_by, filed_name, filed_replace FROM enrollments WHERE code = ?`, code).
		Scan(&e.CSR, &e.APICSR, &e.Hosts, &e.Source, &req, &exp, &e.Name, &appr, &e.ApprovedBy, &e.Cert, &e.APICert, &e.FiledBy, &e.FiledName, &e.FiledReplace)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNoEnrollment
	}
	if err != nil {
		return nil, err
	}
	e.RequestedAt, e.ExpiresAt, e.ApprovedAt = parseTS(req), parseTS(exp), parseTS(appr)
	return e, nil
}

// AddEnrollment records a new pending request. A request with the same
// code that is pending and unexpired is left as it is (false); an expired
// unapproved one is replaced.
func (x *Index) AddEnrollment(ctx context.Context, e Enrollment) (bool, error) {
	tx, err := x.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM enrollments WHERE code = ? AND approved_at = '' AND expires_at < ?`, e.Code, ts(e.RequestedAt)); err != nil {
		return false, err
	}
	r, err := tx.ExecContext(ctx, `INSERT INTO enrollments (code, csr, api_csr, hosts, source, requested_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(code) DO NOTHING`,
		e.Code, e.CSR, e.APICSR, e.Hosts, e.Source, ts(e.RequestedAt), ts(e.ExpiresAt))
	if err != nil {
		return false, err
	}
	n, _ := r.RowsAffected()
	return n == 1, tx.Commit()
}

// PendingEnrollments lists the requests neither approved nor expired at
// now, oldest first.
func (x *Index) PendingEnrollments(ctx context.Context, now time.Time) ([]*Enrollment, error) {
	rows, err := x.db.QueryContext(ctx, `SELECT code FROM enrollments WHERE approved_at = '' AND expires_at >= ? ORDER BY requested_at`, ts(now))
	if err != nil {
		return nil, err
	}
	var codes []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			rows.Close()
			return nil, err
		}
		codes = append(codes, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []*Enrollment
	for _, c := range codes {
		e, err := x.Enrollment(ctx, c)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// CountPendingEnrollments counts the requests neither approved nor
// expired at now.
func (x *Index) CountPendingEnrollments(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := x.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM enrollments WHERE approved_at = '' AND expires_at >= ?`, ts(now)).Scan(&n)
	return n, err
}

// ApproveEnrollment records an approval: the name and the certificates
// issued. Only a pending request unexpired at e.ApprovedAt is approved
// (false otherwise: approved meanwhile, or expired).
func (x *Index) ApproveEnrollment(ctx context.Context, e Enrollment) (bool, error) {
	r, err := x.db.ExecContext(ctx, `UPDATE enrollments SET name = ?, approved_at = ?, approved_by = ?, cert = ?, api_cert = ? WHERE code = ? AND approved_at = '' AND expires_at >= ?`,
		e.Name, ts(e.ApprovedAt), e.ApprovedBy, e.Cert, e.APICert, e.Code, ts(e.ApprovedAt))
	if err != nil {
		return false, err
	}
	n, _ := r.RowsAffected()
	return n == 1, nil
}

// SweepEnrollments removes unapproved requests that expired before now,
// and approved ones older than keep (their certificates were handed out
// or are of no use); it returns how many went.
func (x *Index) SweepEnrollments(ctx context.Context, now time.Time, keep time.Duration) (int64, error) {
	r, err := x.db.ExecContext(ctx, `DELETE FROM enrollments WHERE (approved_at = '' AND expires_at < ?) OR (approved_at <> '' AND approved_at < ?)`, ts(now), ts(now.Add(-keep)))
	if err != nil {
		return 0, fmt.Errorf("index: enrollments: %w", err)
	}
	return r.RowsAffected()
}

// FileEnrollment records a first admin's approval under four-eyes (a
// pending, unexpired request only; false otherwise).
func (x *Index) FileEnrollment(ctx context.Context, code, name, by, replace string, at time.Time) (bool, error) {
	r, err := x.db.ExecContext(ctx, `UPDATE enrollments SET filed_by = ?, filed_name = ?, filed_replace = ? WHERE code = ? AND approved_at = '' AND expires_at >= ?`,
		by, name, replace, code, ts(at))
	if err != nil {
		return false, err
	}
	n, _ := r.RowsAffected()
	return n == 1, nil
}

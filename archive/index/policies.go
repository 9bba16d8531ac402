package index

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"
)

// Policy is one stored version of a policy document (wire.SignedPolicy,
// JSON, in Doc).
type Policy struct {
	Target  string
	Version uint64
	Doc     string
	SetAt   time.Time
	SetBy   string
}

// ErrNoPolicy: no policy applies.
var ErrNoPolicy = errors.New("index: no policy")

// NextPolicyVersion is one above every policy version stored (versions
// are unique across targets, so that a box moved between its own policy
// and its group's still sees the number grow).
func (x *Index) NextPolicyVersion(ctx context.Context) (uint64, error) {
	var v sql.NullInt64
	if err := x.db.QueryRowContext(ctx, `SELECT MAX(version) FROM policies`).Scan(&v); err != nil {
		return 0, err
	}
	return uint64(v.Int64) + 1, nil
}

// AddPolicy stores a policy version; a version taken meanwhile (another
// front-end) is an error, and the caller signs again with the next.
func (x *Index) AddPolicy(ctx context.Context, p Policy) error {
	_, err := x.db.ExecContext(ctx, `INSERT INTO policies (target, version, doc, set_at, set_by) VALUES (?, ?, ?, ?, ?)`,
		p.Target, int64(p.Version), p.Doc, ts(p.SetAt), p.SetBy)
	return err
}

// LatestPolicy returns the newest version for a target (ErrNoPolicy).
func (x *Index) LatestPolicy(ctx context.Context, target string) (*Policy, error) {
	p := &Policy{Target: target}
	var v int64
	var at string
	err := x.db.QueryRowContext(ctx, `SELECT version, doc, set_at, set_by FROM policies WHERE target = ? ORDER BY version DESC LIMIT 1`, target).Scan(&v, &p.Doc, &at, &p.SetBy)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNoPolicy
	}
	if err != nil {
		return nil, err
	}
	p.Version, p.SetAt = uint64(v), parseTS(at)
	return p, nil
}

// PolicyState is a box's policy group and what it reported last.
type PolicyState struct {
	Group   string
	Version uint64 // applied, as reported
	Refused string // "VERSION reason" of its last refusal
}

// PolicyState returns a box's policy state.
func (x *Index) PolicyState(ctx context.Context, name string) (PolicyState, error) {
	var s PolicyState
	var v int64
	err := x.db.QueryRowContext(ctx, `SELECT policy_group, policy_version, policy_refused FROM appliances WHERE name = ?`, name).Scan(&s.Group, &v, &s.Refused)
	if errors.Is(err, sql.ErrNoRows) {
		return s, ErrUnknown
	}
	s.Version = uint64(v)
	return s, err
}

// SetPolicyGroup puts a box in a policy group ("" for none).
func (x *Index) SetPolicyGroup(ctx context.Context, name, group string) error {
	r, err := x.db.ExecContext(ctx, `UPDATE appliances SET policy_group = ? WHERE name = ?`, group, name)
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return ErrUnknown
	}
	return nil
}

// ReportPolicy records what a box reported of its policy.
func (x *Index) ReportPolicy(ctx context.Context, name string, version uint64, refused string) error {
	_, err := x.db.ExecContext(ctx, `UPDATE appliances SET policy_version = ?, policy_refused = ? WHERE name = ?`, int64(version), strings.TrimSpace(refused), name)
	return err
}

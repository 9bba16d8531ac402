package index

import (
	"context"
	"time"
)

// PendingEnrollmentSources lists the source address of every request
// neither approved nor expired at now (at most the archive's cap of
// pending requests), for the archive to count them per network prefix.
func (x *Index) PendingEnrollmentSources(ctx context.Context, now time.Time) ([]string, error) {
	rows, err := x.db.QueryContext(ctx, `SELECT source FROM enrollments WHERE approved_at = '' AND expires_at >= ?`, ts(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// RenewEnrollment moves a pending, unexpired request's expiry to until
// (the box asked again); false when it was approved or had expired at
// now.
func (x *Index) RenewEnrollment(ctx context.Context, code string, now, until time.Time) (bool, error) {
	r, err := x.db.ExecContext(ctx, `UPDATE enrollments SET expires_at = ? WHERE code = ? AND approved_at = '' AND expires_at >= ?`, ts(until), code, ts(now))
	if err != nil {
		return false, err
	}
	n, _ := r.RowsAffected()
	return n == 1, nil
}

package access

import (
	"context"
	"fmt"

	"github.com/spanvault/spanvault/archive/index"
)

// adminGuarded runs q, an UPDATE of one user's row guarded by a count of
// the other enabled admins (setRole, disableKeepingAdmins), and returns
// how many rows it changed. Two such updates never run at once: on
// PostgreSQL each takes the index's LockAdmins (a transaction-scoped
// advisory lock) first, so that its statement, under READ COMMITTED,
// counts what the other committed; alone, two removals of different
// admins at the same moment both counted the other still enabled.
// SQLite's transactions take the write lock at BEGIN.
func adminGuarded(ctx context.Context, db *index.DB, q string, args ...any) (int64, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("access: %w", err)
	}
	defer tx.Rollback()
	if err := tx.Serialize(ctx, index.LockAdmins); err != nil {
		return 0, fmt.Errorf("access: admins' lock: %w", err)
	}
	res, err := tx.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("access: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("access: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("access: %w", err)
	}
	return n, nil
}

package access

import (
	"context"
	"fmt"

	"github.com/spanvault/spanvault/archive/index"
)

// The bootstrap is one-way: BootstrapAdmin takes one of two slots
// (index migration 25: bootstrap_slots; one per name, migration 27) in a
// single statement before it adds its admin, and no slot is ever freed
// but one whose own addition failed; the next bootstrap takes the lowest
// free slot. It takes none while the archive holds an account that is not
// a bootstrap admin, and an archive migrated with accounts has both
// slots taken. So a demotion, a disabled admin or two bootstraps at once
// never reopen it. And the admins stay at least two: a role request that
// would leave fewer than two enabled admin accounts is refused when
// filed, when decided and in the update that carries it out; nobody
// files a change of their own role. Disabling an admin keeps the same
// rule, in the update that disables (web, API, command line); accounts
// are never deleted.

// minAdmins is how many enabled admin accounts a role change leaves at
// least: the two people every account addition or reset takes.
const minAdmins = BootstrapAdmins

// takeBootstrapSlot claims the lowest free bootstrap slot for name, or
// refuses when name has a slot already (another bootstrap of the same
// name is adding it; the slot's name is unique: index migration 27) or
// (errHasAdmins) when both are taken, one was taken meanwhile, or the
// archive has an account the bootstrap did not add.
func (s *Service) takeBootstrapSlot(ctx context.Context, name string) (int, error) {
	// The lowest positive number not taken is 1 or one above a taken slot.
	res, err := s.db().ExecContext(ctx, `INSERT INTO bootstrap_slots (slot, name, taken_at)
SELECT c.n, ?, ? FROM (SELECT 1 AS n UNION SELECT slot + 1 AS n FROM bootstrap_slots) c
WHERE c.n <= ? AND c.n NOT IN (SELECT slot FROM bootstrap_slots)
AND NOT EXISTS (SELECT 1 FROM bootstrap_slots WHERE name = ?)
AND NOT EXISTS (SELECT 1 FROM users WHERE name NOT IN (SELECT name FROM bootstrap_slots))
ORDER BY c.n LIMIT 1`, name, ts(s.now()), BootstrapAdmins, name)
	var n int64
	if err == nil {
		n, _ = res.RowsAffected()
	}
	if err != nil || n == 0 {
		var other int
		if s.db().QueryRowContext(ctx, `SELECT slot FROM bootstrap_slots WHERE name = ?`, name).Scan(&other) == nil {
			return 0, fmt.Errorf("access: user %s exists or is being added by another bootstrap (slot %d)", name, other)
		}
		if err != nil {
			// The primary key (another bootstrap took this slot meanwhile)
			// or the CHECK (a third): the database refuses.
			return 0, fmt.Errorf("%w (%v)", errHasAdmins, err)
		}
		return 0, errHasAdmins
	}
	var slot int
	if err := s.db().QueryRowContext(ctx, `SELECT slot FROM bootstrap_slots WHERE name = ?`, name).Scan(&slot); err != nil {
		return 0, fmt.Errorf("access: bootstrap slot: %w", err)
	}
	return slot, nil
}

// freeBootstrapSlot gives back slot, which name took, when name's
// addition failed: the slot's number, so that the next bootstrap takes
// it (the lowest free one).
func (s *Service) freeBootstrapSlot(ctx context.Context, slot int, name string) error {
	if _, err := s.db().ExecContext(ctx, `DELETE FROM bootstrap_slots WHERE slot = ? AND name = ?`, slot, name); err != nil {
		return fmt.Errorf("access: giving back bootstrap slot %d (%s): %w", slot, name, err)
	}
	return nil
}

// keepsAdmins refuses a change of user's role to role when it would
// leave fewer than minAdmins enabled admin accounts.
func (s *Service) keepsAdmins(ctx context.Context, user string, role Role) error {
	if role == Admin {
		return nil
	}
	var cur string
	if err := s.db().QueryRowContext(ctx, `SELECT role FROM users WHERE name = ?`, user).Scan(&cur); err != nil || Role(cur) != Admin {
		return nil // not an admin (or unknown: the caller answers that)
	}
	var others int
	if err := s.db().QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE role = ? AND disabled = '' AND name <> ?`, string(Admin), user).Scan(&others); err != nil {
		return fmt.Errorf("access: %w", err)
	}
	if others < minAdmins {
		return errLastAdmins(user, others)
	}
	return nil
}

func errLastAdmins(user string, others int) error {
	return forbidden(fmt.Sprintf("user %s keeps the admin role: the archive needs at least %d enabled admin accounts besides any change, and has %d others (add an admin first)", user, minAdmins, others))
}

// roleRequestRefusal refuses u's filing of a change of user's role to
// role: their own, or one that leaves too few admins (nil: they may).
func (s *Service) roleRequestRefusal(ctx context.Context, u *User, user string, role Role) error {
	if user == u.Name {
		return forbidden("nobody files a change of their own role: another admin does")
	}
	return s.keepsAdmins(ctx, user, role)
}

// disableKeepingAdmins disables name (why: disabled's text) unless it is
// an enabled admin and fewer than minAdmins other enabled admins remain:
// the check and the write are one guarded UPDATE (adminGuarded).
func disableKeepingAdmins(ctx context.Context, db *index.DB, name, why string) error {
	n, err := adminGuarded(ctx, db, `UPDATE users SET disabled = ? WHERE name = ?
AND (role <> ? OR disabled <> '' OR (SELECT COUNT(*) FROM users o WHERE o.role = ? AND o.disabled = '' AND o.name <> ?) >= ?)`,
		why, name, string(Admin), string(Admin), name, minAdmins)
	if err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	var others int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE role = ? AND disabled = '' AND name <> ?`, string(Admin), name).Scan(&others); err != nil {
		return fmt.Errorf("access: %w", err)
	}
	var role string
	if err := db.QueryRowContext(ctx, `SELECT role FROM users WHERE name = ?`, name).Scan(&role); err != nil {
		return ErrNoUser
	}
	return forbidden(fmt.Sprintf("admin %s stays enabled: the archive needs at least %d enabled admin accounts besides any change, and has %d others (add an admin first)", name, minAdmins, others))
}

package config

import (
	"fmt"
	"time"

	"github.com/spanvault/spanvault/vault/retention"
)

// CheckLegalFloor refuses a retention policy that weakens a class the box
// holds as legal retention: a class that is must_sync in floor (the box's
// own configuration, or a policy applied earlier) must stay in next, stay
// must_sync, and keep at least floor's max_age and grace. A central policy
// may lengthen a legal class or add new ones; it may not shorten one, so
// that whoever signs policies cannot have the box delete recordings a law
// requires before the archive holds them.
func CheckLegalFloor(floor, next *retention.Policy) error { return checkLegal(floor, next, true) }

// CheckLegalKept refuses a retention policy that drops a class prev (the
// policy applied earlier) holds as legal retention or removes its
// must_sync: the box holds recordings under it. Its max_age and grace may
// move within the box's own floor (CheckLegalFloor).
func CheckLegalKept(prev, next *retention.Policy) error { return checkLegal(prev, next, false) }

func checkLegal(floor, next *retention.Policy, ages bool) error {
	if floor == nil || next == nil {
		return nil
	}
	for _, f := range floor.Classes {
		if !f.MustSync {
			continue
		}
		n, ok := next.Class(f.Name)
		switch {
		case !ok:
			return fmt.Errorf("retention: class %q is held as legal retention (must_sync) on this box and may not be dropped", f.Name)
		case !n.MustSync:
			return fmt.Errorf("retention: class %q is held as legal retention on this box: must_sync may not be removed", f.Name)
		case !ages:
		case n.MaxAge < f.MaxAge:
			return fmt.Errorf("retention: class %q is held as legal retention on this box: max_age %v is below the box's %v", f.Name, time.Duration(n.MaxAge), time.Duration(f.MaxAge))
		case n.Grace < f.Grace:
			return fmt.Errorf("retention: class %q is held as legal retention on this box: grace %v is below the box's %v", f.Name, time.Duration(n.Grace), time.Duration(f.Grace))
		}
	}
	return nil
}

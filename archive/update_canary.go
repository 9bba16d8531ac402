package archive

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spanvault/spanvault/archive/index"
)

// stopCanarySkipped stops a rollout whose canary skipped the update (it
// runs a later serial): no box tried it, so wave 1 does not start. The
// operator rolls it again with another canary.
func (a *Archive) stopCanarySkipped(ctx context.Context, r *index.Rollout, canary index.RolloutBox, now time.Time) error {
	why := fmt.Sprintf("wave 0: the canary %s did not try update %d (%s); no box tested it: roll it again with another canary", r.Canary, r.Serial, canary.Reason)
	return a.stopByItself(ctx, r, why, now)
}

// stopByItself stops the active rollout r for why (its canary failed or
// skipped the update, or a wave failed over its threshold); the front-end
// whose pass stops it audits it, once.
func (a *Archive) stopByItself(ctx context.Context, r *index.Rollout, why string, now time.Time) error {
	ok, err := a.Index.SetRolloutState(ctx, r.ID, index.RolloutActive, index.RolloutStopped, why, "", now)
	if err != nil {
		return err
	}
	if ok {
		a.Event(ctx, "update_rollout_stopped", "archive", "", fmt.Sprintf("rollout %d of update %d stopped by itself: %s", r.ID, r.Serial, why), true)
	}
	r.State = index.RolloutStopped
	return nil
}

// leaveRollouts takes a revoked box out of the rollouts it is not done
// in (index.LeaveRollouts), and says so in the audit trail.
func (a *Archive) leaveRollouts(ctx context.Context, name string) error {
	ids, err := a.Index.LeaveRollouts(ctx, name, openStates)
	if err != nil {
		return fmt.Errorf("archive: revoked box %s: leaving its rollouts: %w", name, err)
	}
	if len(ids) > 0 {
		s := make([]string, len(ids))
		for i, id := range ids {
			s[i] = fmt.Sprint(id)
		}
		a.Event(ctx, "update_left", "archive", name, "revoked: taken out of rollouts "+strings.Join(s, ", "), false)
	}
	return nil
}

// rolloutFourEyes reports whether a rollout to boxes is filed for a
// second admin to approve: always when it reaches more than one box (one
// person alone never ships firmware to the fleet), and for one box when
// [enroll] four_eyes is set.
func rolloutFourEyes(enrollFourEyes bool, boxes []string) bool {
	return enrollFourEyes || len(boxes) > 1
}

package access

import (
	"context"
	"errors"

	"github.com/spanvault/spanvault/archive/index"
)

// BoxPolicy is a fleet row's central policy: the version in force for the
// box (its own, else its group's), the one it reported applying, the
// reason of its last refusal, and whether the two differ (drift).
type BoxPolicy struct {
	InForce uint64 `json:"in_force"`
	Applied uint64 `json:"applied"`
	Group   string `json:"group,omitempty"`
	Refused string `json:"refused,omitempty"`
	Drift   bool   `json:"drift"`
}

// boxPolicy is nil when no policy applies to the box and it reported none.
func (s *Service) boxPolicy(ctx context.Context, name string) *BoxPolicy {
	st, err := s.A.Index.PolicyState(ctx, name)
	if err != nil {
		s.A.Logger.Error("fleet: policy state", "appliance", name, "err", err)
		return nil
	}
	p := &BoxPolicy{Applied: st.Version, Group: st.Group, Refused: st.Refused}
	in, _, err := s.A.PolicyFor(ctx, name)
	switch {
	case errors.Is(err, index.ErrNoPolicy):
	case err != nil:
		s.A.Logger.Error("fleet: policy in force", "appliance", name, "err", err)
	default:
		p.InForce = in.Version
	}
	if p.InForce == 0 && p.Applied == 0 && p.Refused == "" {
		return nil
	}
	p.Drift = p.InForce != p.Applied
	return p
}

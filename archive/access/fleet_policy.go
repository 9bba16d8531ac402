package access

import (
	"context"

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

// fleetPolicies is every box's policy state and the newest version of
// every policy target, read in two queries for the whole fleet.
type fleetPolicies struct {
	states map[string]index.PolicyState
	latest map[string]uint64 // by target: "box:NAME", "group:NAME"
}

func (s *Service) fleetPolicies(ctx context.Context) (fleetPolicies, error) {
	st, err := s.A.Index.PolicyStates(ctx)
	if err != nil {
		return fleetPolicies{}, err
	}
	latest, err := s.A.Index.LatestPolicyVersions(ctx)
	if err != nil {
		return fleetPolicies{}, err
	}
	return fleetPolicies{states: st, latest: latest}, nil
}

// of is a box's policy as archive.PolicyFor finds the one in force (its
// own newest, else its group's newest); nil when no policy applies to
// the box and it reported none.
func (fp fleetPolicies) of(name string) *BoxPolicy {
	st := fp.states[name]
	p := &BoxPolicy{Applied: st.Version, Group: st.Group, Refused: st.Refused}
	if v, ok := fp.latest["box:"+name]; ok {
		p.InForce = v
	} else if st.Group != "" {
		p.InForce = fp.latest["group:"+st.Group]
	}
	if p.InForce == 0 && p.Applied == 0 && p.Refused == "" {
		return nil
	}
	p.Drift = p.InForce != p.Applied
	return p
}

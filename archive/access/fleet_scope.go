package access

import "context"

// fleetFor is the fleet as u may see it: the boxes of u's branches
// only, with their alerts and reasons (a reader of every branch sees
// every box). The page and the API both list through it; WatchFleet,
// which raises the alerts, looks at every box.
func (s *Service) fleetFor(ctx context.Context, u *User) ([]Box, error) {
	bs, err := s.Fleet(ctx)
	if err != nil || u.AllBranches() {
		return bs, err
	}
	out := bs[:0]
	for _, b := range bs {
		if u.InScope(b.Name) {
			out = append(out, b)
		}
	}
	return out, nil
}

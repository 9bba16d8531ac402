package access

import (
	"context"
	"errors"
	"fmt"
)

// OperatorSource is the sign-in source of a person at the archive's
// command line (in the trail, and for the sources the owner is known
// from).
const OperatorSource = "command line"

// AuthenticateOperator checks a person at the archive's command line who
// names themselves as the one doing act (spanvault-archive approve -by):
// their password and a second-factor code, as the web sign-in checks
// them (one argon2 run, each code once, a wrong password or code counted
// toward the lockout). A command line is a new process each time, so it
// keeps no backoff of its own: an account with maxFailures failures is
// refused here whatever the source, until its owner signs in on the web
// or an administrator unlocks it. The role must allow act (any role,
// for act "": what they then ask is checked as the web checks it).
func (s *Service) AuthenticateOperator(ctx context.Context, name, password, code string, act Action) (*User, error) {
	if !validName(name) {
		return nil, errMalformed
	}
	if u, err := getUser(ctx, s.db(), name); err == nil && u.Locked() {
		s.audit(ctx, "signin_failed", name, "", fmt.Sprintf("%d failures: refused at the command line until the owner signs in on the web or an administrator unlocks", u.Failures), false)
		return nil, ErrCredentials
	} else if err != nil && !errors.Is(err, ErrNoUser) {
		return nil, err
	}
	u, err := s.authenticate(ctx, OperatorSource, name, password, code, forSession)
	if err != nil {
		if errors.Is(err, errMustChange) {
			return nil, fmt.Errorf("%s still has a one-time password: set your own on the web first", name)
		}
		return nil, err
	}
	if act != "" && !Allowed(u.Role, act) {
		s.audit(ctx, "refused", name, "", fmt.Sprintf("command line: role %s may not %s", u.Role, act), false)
		return nil, fmt.Errorf("%s (%s) may not %s", name, u.Role, act)
	}
	what := string(act)
	if what == "" {
		what = "list or decide requests"
	}
	s.audit(ctx, "signin", name, "", "command line, to "+what, false)
	return u, nil
}

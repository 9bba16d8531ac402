package access

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spanvault/spanvault/internal/httperr"
)

// ReqAddUser adds a user: an administrator files it, another approves it
// and receives a single-use setup link (setup.go) for the new user to set
// their own password and second factor: nobody else sees them. Both are bound by checkGrant: a scoped role needs
// branches, every branch within both administrators' scopes. Through the
// web nobody creates an account they could sign in to themselves.
const ReqAddUser = "add_user"

func init() {
	approvers[ReqAddUser] = []Role{Admin}
	requesters[ReqAddUser] = ActUsers
}

// requestAddUser files the request to add name with role and branches.
func (s *Service) requestAddUser(ctx context.Context, u *User, name, role string, branches []string, reason string) (*Request, error) {
	if err := s.authorize(ctx, u, ActUsers, Object{}); err != nil {
		return nil, err
	}
	name = strings.TrimSpace(name)
	if !userRe.MatchString(name) {
		return nil, httperr.BadRequestf("user name %q: 1 to 64 lower-case letters, digits, '.', '_' and '-'", name)
	}
	if strings.TrimSpace(reason) == "" {
		return nil, httperr.BadRequest("a request needs a reason")
	}
	rl, err := ParseRole(role)
	if err != nil {
		return nil, err
	}
	if _, err := getUser(ctx, s.db(), name); err == nil {
		return nil, httperr.BadRequestf("user %s exists", name)
	}
	if err := s.checkGrant(ctx, u, nil, rl, branches); err != nil {
		return nil, err
	}
	t := Target{User: name, Role: rl, Branches: branches}
	tj, _ := json.Marshal(t)
	req := &Request{Kind: ReqAddUser, Target: t, Reason: reason, RequestedBy: u.Name, RequestedAt: s.now().UTC(), State: StatePending}
	err = s.db().QueryRowContext(ctx, `INSERT INTO requests (action, target, reason, requested_by, requested_at, state) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
		req.Kind, string(tj), req.Reason, req.RequestedBy, ts(req.RequestedAt), req.State).Scan(&req.ID)
	if err != nil {
		return nil, err
	}
	req.Plan = s.planAccount(req)
	s.audit(ctx, "request_filed", u.Name, "", fmt.Sprintf("request %d add user %s as %s on branches %s", req.ID, name, rl, scopeString(branches, len(branches) == 0)), false)
	return req, nil
}

// carryOutAddUser runs an approved addition: the approver's own scope
// is checked again; the account's first password and second factor are
// random and shown to nobody; the approver receives the setup link.
func (s *Service) carryOutAddUser(ctx context.Context, approver *User, r *Request) error {
	t := r.Target
	if err := s.checkGrant(ctx, approver, nil, t.Role, t.Branches); err != nil {
		return err
	}
	if _, err := AddUser(ctx, s.db(), s.now(), t.User, t.Role, t.Branches, s.Keys); err != nil { // its secrets are dropped here
		return httperr.BadRequest(strings.TrimPrefix(err.Error(), "access: "))
	}
	link, err := s.issueSetup(ctx, t.User, setupNew, r.DecidedBy)
	if err != nil {
		return err
	}
	r.SetupLink = link
	r.Result = "user " + t.User + " added; setup link handed to " + r.DecidedBy + " for the user (they set their own password and second factor)"
	s.audit(ctx, "user_added", r.DecidedBy, "", fmt.Sprintf("user %s as %s on branches %s, requested by %s", t.User, t.Role, scopeString(t.Branches, len(t.Branches) == 0), r.RequestedBy), false)
	return nil
}

// planAccount says what approving an account request will do.
func (s *Service) planAccount(r *Request) *Plan {
	t := r.Target
	switch r.Kind {
	case ReqAddUser:
		return &Plan{Summary: fmt.Sprintf("add user %s with role %s on branches %s; you receive a single-use setup link for the user, who sets their own password and second factor", t.User, t.Role, scopeString(t.Branches, len(t.Branches) == 0))}
	case ReqReset:
		return &Plan{Summary: fmt.Sprintf("user %s gets a new one-time password and a new second factor; their sessions end; you receive a single-use setup link for the user, who sets their own", t.User)}
	}
	return nil
}

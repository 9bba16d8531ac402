package access

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/internal/httperr"
	"github.com/spanvault/spanvault/sync/wire"
)

// The archive's command line acts through these, as a person
// AuthenticateOperator checked, under the rules of the web workspace:
// the same rights and branches, the same four-eyes requests, the same
// trail. A refusal is audited ("denied", like the web's) and answered
// with the reason.

// cli audits err when it is a refusal of what u asked at the command line.
func (s *Service) cli(ctx context.Context, u *User, what string, err error) error {
	var rf *refusal
	if errors.As(err, &rf) {
		s.audit(ctx, "denied", u.Name, "", fmt.Sprintf("command line: %s: %s", what, rf.why), false)
	}
	return err
}

// FileRequest files a four-eyes request as u (the web's POST
// /api/v1/requests): an erasure, a hold's release, an export. A second,
// different person approves it (DecideRequest, or the workspace).
func (s *Service) FileRequest(ctx context.Context, u *User, in RequestInput) (*Request, error) {
	r, err := s.request(ctx, u, in)
	return r, s.cli(ctx, u, "file "+in.Kind, err)
}

// DecideRequest approves or rejects request id as u (the web's
// POST /api/v1/requests/{id}/approve|reject). An approved addition or
// reset answers the user's setup link, absolute, in SetupLink.
func (s *Service) DecideRequest(ctx context.Context, u *User, id int64, approve bool) (*Request, error) {
	r, err := s.decide(ctx, u, id, approve)
	if err != nil {
		return nil, s.cli(ctx, u, fmt.Sprintf("decide request %d", id), err)
	}
	if r.SetupLink != "" {
		r.SetupLink = s.absoluteLink(nil, r.SetupLink)
	}
	return r, nil
}

// Requests lists the requests u may see (filed by them, or theirs to
// decide within their branches), newest first.
func (s *Service) Requests(ctx context.Context, u *User) ([]*Request, error) {
	rs, err := s.requests(ctx, 0)
	if err != nil {
		return nil, err
	}
	var out []*Request
	for _, r := range rs {
		if s.maysee(u, r) {
			out = append(out, r)
		}
	}
	return out, nil
}

// Hold puts a recording on legal hold as u, at once (the web's POST
// /api/v1/recordings/{app}/{id}/hold): a role that may hold, the
// recording's branch in u's scope, a reason.
func (s *Service) Hold(ctx context.Context, u *User, app, id, reason string) (int64, error) {
	if err := s.authorize(ctx, u, ActHold, s.recordingObject(ctx, app, id)); err != nil {
		return 0, s.cli(ctx, u, "hold "+app+"/"+id, err)
	}
	if strings.TrimSpace(reason) == "" {
		return 0, httperr.BadRequest("a hold needs a reason")
	}
	if _, err := s.recording(ctx, app, id); err != nil {
		return 0, err
	}
	return s.A.Command(ctx, app, wire.CmdHold, id, false, reason, u.Name)
}

// Export gives an approved export request to its requester u, once, as
// the web's download does: write makes the file of the recording; only
// when it succeeded is the export used up and admitted against u's
// limits (the caller removes the file when Export fails after write).
// The trail names u, the approver and format.
func (s *Service) Export(ctx context.Context, u *User, id int64, format string, write func(*index.Record) error) error {
	req, err := s.exportable(ctx, u, id)
	if err != nil {
		return s.cli(ctx, u, fmt.Sprintf("export %d", id), err)
	}
	rec, err := s.recording(ctx, req.Target.Appliance, req.Target.Recording)
	if err != nil {
		return err
	}
	if err := write(rec); err != nil {
		return err
	}
	if err := s.claimExport(ctx, u, req); err != nil {
		return s.cli(ctx, u, fmt.Sprintf("export %d", id), err)
	}
	if err := s.admit(ctx, u.Name, accExport, rec.Appliance, rec.ID, "", true); err != nil {
		return s.cli(ctx, u, fmt.Sprintf("export %d", id), err)
	}
	s.audit(ctx, "export", u.Name, rec.Appliance, fmt.Sprintf("recording %s request %d approved by %s format %s, written by the command line", rec.ID, id, req.DecidedBy, format), false)
	return nil
}

// Account runs an account operation as the administrator u, as the
// users page does: disable, enable and unlock at once; reset files a
// four-eyes request.
func (s *Service) Account(ctx context.Context, u *User, name, op, reason string) (*Request, error) {
	r, err := s.account(ctx, u, name, op, reason)
	return r, s.cli(ctx, u, op+" user "+name, err)
}

// RequestAddUser files the addition of a user as the administrator u;
// another administrator approves it and receives the setup link.
func (s *Service) RequestAddUser(ctx context.Context, u *User, name string, role Role, branches []string, reason string) (*Request, error) {
	r, err := s.requestAddUser(ctx, u, name, string(role), branches, reason)
	return r, s.cli(ctx, u, "add user "+name, err)
}

// BootstrapActor is who the trail names for the first administrators'
// additions at the command line.
const BootstrapActor = "bootstrap (command line, fewer than two admin accounts)"

// BootstrapAdmins is how many administrators the bootstrap adds: the
// two people every later account addition or reset takes.
const BootstrapAdmins = 2

// errHasAdmins: the bootstrap is for an archive without its first admins.
var errHasAdmins = fmt.Errorf("the bootstrap is closed (it adds the first %d admins of an archive without other accounts, once): new accounts are requested by one admin (-by NAME, with your credentials) and approved by another", BootstrapAdmins)

// BootstrapAdmin adds one of the first BootstrapAdmins administrators
// of an archive (while every account on it is one the bootstrap added;
// each takes a slot, given back only when its addition fails:
// bootstrap_guard.go),
// alerted in the trail, and answers the setup link (absolute; access.public_url
// must be set) through which they set their own password and second
// factor: nobody else sees either. Once the archive has them, accounts
// are four-eyes requests only.
func (s *Service) BootstrapAdmin(ctx context.Context, name string) (string, error) {
	if _, err := s.setupBase(); err != nil {
		return "", err
	}
	if !userRe.MatchString(name) {
		return "", fmt.Errorf("access: user name %q: lower-case letters, digits, '.', '_' and '-'", name)
	}
	if u, _ := getUser(ctx, s.db(), name); u != nil {
		return "", fmt.Errorf("access: user %s exists", name)
	}
	n, err := s.takeBootstrapSlot(ctx, name) // bootstrap_guard.go: one-way, atomic
	if err != nil {
		return "", err
	}
	if _, err := AddUser(ctx, s.db(), s.now(), name, Admin, nil, s.Keys); err != nil { // its secrets are dropped here
		return "", errors.Join(err, s.freeBootstrapSlot(ctx, n, name))
	}
	s.audit(ctx, "user_added", BootstrapActor, "", fmt.Sprintf("user %s as %s on branches *: admin %d of the first %d", name, Admin, n, BootstrapAdmins), true)
	link, err := s.issueSetup(ctx, name, setupNew, BootstrapActor)
	if err != nil {
		return "", err
	}
	return s.absoluteLink(nil, link), nil
}

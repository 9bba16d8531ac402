package access

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/internal/httperr"
	"github.com/spanvault/spanvault/sync/wire"
)

// Authorization: every web and API handler asks authorize once it knows
// what the request is on. The answer depends on the user's role, branches
// and suspension, the action, and the target's branches:
//
//   - a role that may not do the action: 403 with the reason;
//   - a suspended user asking for audio, an export or a link: 403;
//   - a target that does not exist, or that lies outside the user's
//     branches: 404, with the same body either way, so that nobody learns
//     what another branch holds by trying its IDs.
//
// Every refusal is an audit entry ("denied", with the real reason: the
// reply may hide it, the trail does not).

// Object is what an action is on, as authorize sees it.
type Object struct {
	Kind     string   // "recording", "branch", "user", "link", "request", "subject"; "": no target
	Name     string   // how the audit trail names it
	Branches []string // the branches it lives in
	// AllBranches: it spans every branch (an unscoped user); only an
	// unscoped user covers it.
	AllBranches bool
	// Missing: it does not exist.
	Missing bool
	// Req: for a request, who may see it is who filed it or who may
	// decide it within their scope.
	Req *Request
}

// refusal is authorize's answer: the status and what the client reads,
// and the reason the audit trail keeps.
type refusal struct {
	status int
	public string
	why    string
}

func (r *refusal) Error() string { return r.public }

// Is lets callers that test for errDenied or errNotFound keep working.
func (r *refusal) Is(target error) bool {
	return (r.status == http.StatusForbidden && target == errDenied) || (r.status == http.StatusNotFound && target == errNotFound)
}

func forbidden(why string) error {
	return &refusal{status: http.StatusForbidden, public: why, why: why}
}

// hidden is the answer for a target the user may not know of: the same
// as for one that does not exist.
func hidden(kind, why string) error {
	return &refusal{status: http.StatusNotFound, public: "no such " + kind, why: why}
}

// suspendable: the actions a suspension stops (those that hand out a
// recording's audio).
var suspendable = []Action{ActPlay, ActExport, ActLink}

// authorize decides whether u may do act on o (act "": any signed-in
// user; o zero: no particular target). It does not audit: the caller
// answers through refuse (or fail), which does.
func (s *Service) authorize(ctx context.Context, u *User, act Action, o Object) error {
	if act != "" && !Allowed(u.Role, act) {
		return forbidden(fmt.Sprintf("role %s may not %s", u.Role, act))
	}
	if o.Kind == "" {
		return nil
	}
	if u.Suspended != "" && o.Kind == "recording" && slices.Contains(suspendable, act) {
		return forbidden("suspended pending review: " + u.Suspended)
	}
	if o.Missing {
		return hidden(o.Kind, fmt.Sprintf("%s %s: unknown", o.Kind, o.Name))
	}
	if o.Req != nil {
		if !s.maysee(u, o.Req) {
			return hidden(o.Kind, fmt.Sprintf("%s %s: neither filed by %s nor for them to decide within their branches", o.Kind, o.Name, u.Name))
		}
		return nil
	}
	if !covers(u, o) {
		return hidden(o.Kind, fmt.Sprintf("%s %s: branches %s outside the scope %s", o.Kind, o.Name, scopeString(o.Branches, o.AllBranches), scopeString(u.Branches, u.AllBranches())))
	}
	return nil
}

// covers reports whether every branch of o is in u's scope.
func covers(u *User, o Object) bool {
	if u.AllBranches() {
		return true
	}
	if o.AllBranches {
		return false
	}
	for _, b := range o.Branches {
		if !slices.Contains(u.Branches, b) {
			return false
		}
	}
	return true
}

func scopeString(bs []string, all bool) string {
	if all {
		return "*"
	}
	return strings.Join(bs, ",")
}

// refuse answers a refusal (and audits it): JSON for the API and links,
// a page for the web. It reports whether err was one.
func (s *Service) refuse(w http.ResponseWriter, r *http.Request, ss *session, err error) bool {
	var rf *refusal
	if !errors.As(err, &rf) {
		return false
	}
	actor := ""
	if ss != nil {
		actor = ss.user.Name
	}
	s.audit(r.Context(), "denied", actor, "", fmt.Sprintf("%s %s: %s", r.Method, r.URL.Path, rf.why), false)
	s.writeError(w, r, ss, rf)
	return true
}

// check is authorize followed by refuse: false when the handler must stop.
func (s *Service) check(w http.ResponseWriter, r *http.Request, ss *session, act Action, o Object) bool {
	if err := s.authorize(r.Context(), ss.user, act, o); err != nil {
		s.refuse(w, r, ss, err)
		return false
	}
	return true
}

// recordingObject names a recording (erased ones exist: 410 in scope).
func (s *Service) recordingObject(ctx context.Context, app, id string) Object {
	o := Object{Kind: "recording", Name: app + "/" + id, Branches: []string{app}}
	rs, err := s.A.Index.Records(ctx, index.Query{Appliance: app, ID: id, Kind: wire.KindRecording})
	o.Missing = err != nil || len(rs) == 0
	return o
}

// recordingByID names a recording known by its ID alone (the CRM's
// view): the one in the user's branches; several: the caller must name
// the branch.
func (s *Service) recordingByID(ctx context.Context, u *User, id string) (Object, error) {
	rs, err := s.A.Index.Records(ctx, index.Query{ID: id, Kind: wire.KindRecording})
	if err != nil {
		return Object{}, err
	}
	var mine, others []string
	for _, r := range rs {
		if u.InScope(r.Appliance) {
			mine = append(mine, r.Appliance)
		} else {
			others = append(others, r.Appliance)
		}
	}
	switch len(mine) {
	case 0:
		if len(others) == 0 {
			return Object{Kind: "recording", Name: id, Missing: true}, nil
		}
		return Object{Kind: "recording", Name: others[0] + "/" + id, Branches: others[:1]}, nil
	case 1:
		return Object{Kind: "recording", Name: mine[0] + "/" + id, Branches: mine}, nil
	}
	return Object{}, httperr.Conflict("recording ID exists in several branches: give appliance")
}

// branchObject names branches (a search filter): every one must exist.
func (s *Service) branchObject(ctx context.Context, names []string) Object {
	o := Object{Kind: "branch", Name: strings.Join(names, ","), Branches: names}
	for _, n := range names {
		if _, err := s.A.Index.Appliance(ctx, n); err != nil {
			o.Missing = true
		}
	}
	return o
}

// userObject names a user: their branches are the target's.
func (s *Service) userObject(ctx context.Context, name string) (Object, *User) {
	o := Object{Kind: "user", Name: name}
	u, err := getUser(ctx, s.db(), name)
	if err != nil {
		o.Missing = true
		return o, nil
	}
	o.Branches, o.AllBranches = u.Branches, u.AllBranches()
	return o, u
}

// requestObject names a four-eyes request.
func (s *Service) requestObject(ctx context.Context, id int64) (Object, *Request) {
	o := Object{Kind: "request", Name: fmt.Sprint(id)}
	r, err := s.getRequest(ctx, id)
	if err != nil {
		o.Missing = true
		return o, nil
	}
	o.Req = r
	return o, r
}

// mayApproveAny reports whether a role decides any kind of request.
func mayApproveAny(r Role) bool {
	for _, rs := range approvers {
		if slices.Contains(rs, r) {
			return true
		}
	}
	return false
}

// mayDecide: u's role decides r's kind and r lies within u's branches
// (for a subject: at least one of its branches; what is erased is then
// the branches both people hold).
func (s *Service) mayDecide(u *User, r *Request) bool {
	if !MayApprove(u.Role, r.Kind) {
		return false
	}
	switch r.Kind {
	case ReqBulk:
		return len(intersect(r.Target.Scope, u)) > 0
	case ReqAddUser:
		return covers(u, Object{Branches: r.Target.Branches, AllBranches: len(r.Target.Branches) == 0})
	case ReqRole:
		return covers(u, Object{Branches: r.Target.Current, AllBranches: r.Target.CurrentAll}) &&
			covers(u, Object{Branches: r.Target.Branches, AllBranches: len(r.Target.Branches) == 0})
	}
	return r.Target.Appliance == "" || u.InScope(r.Target.Appliance)
}

// maysee: a user sees the requests they filed and those they may decide.
func (s *Service) maysee(u *User, r *Request) bool {
	return r.RequestedBy == u.Name || s.mayDecide(u, r)
}

// intersect: the branches of bs in u's scope.
func intersect(bs []string, u *User) []string {
	var out []string
	for _, b := range bs {
		if u.InScope(b) {
			out = append(out, b)
		}
	}
	return out
}

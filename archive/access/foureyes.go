package access

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/internal/httperr"
	"github.com/spanvault/spanvault/sync/wire"
)

// exportTTL: an approved export is downloaded once, by its requester,
// within this long of its approval; then it is expired.
const exportTTL = 24 * time.Hour

func tsOrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return ts(t)
}

// scopedRoles must always be scoped to branches.
var scopedRoles = []Role{Supervisor, Compliance, CRM}

// checkGrant is the rule for giving role and branches to a user (target:
// the user as they are now; nil for a new one), checked for the admin who
// asks and again for the one who approves: scoped roles need branches,
// every branch exists and is within the admin's own scope, and a scoped
// user is never made unscoped.
func (s *Service) checkGrant(ctx context.Context, by, target *User, role Role, branches []string) error {
	if len(branches) == 0 {
		switch {
		case slices.Contains(scopedRoles, role):
			return httperr.BadRequestf("role %s must be scoped to branches", role)
		case target != nil && !target.AllBranches():
			return forbidden(fmt.Sprintf("user %s is scoped to branches: a scoped user is never made unscoped", target.Name))
		case !by.AllBranches():
			return forbidden("an admin scoped to branches may not grant every branch")
		}
		return nil
	}
	for _, b := range branches {
		if !by.InScope(b) {
			return forbidden(fmt.Sprintf("branch %s is outside your scope", b))
		}
	}
	return branchesExist(ctx, s.db(), branches)
}

// branchesExist checks that every branch is an enrolled appliance.
func branchesExist(ctx context.Context, db *index.DB, branches []string) error {
	for i, b := range branches {
		if b == "" || slices.Contains(branches[:i], b) {
			return httperr.BadRequestf("branches %q: empty or repeated", strings.Join(branches, ","))
		}
		var n int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM appliances WHERE name = ?`, b).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return httperr.BadRequestf("branch %s: no such appliance", b)
		}
	}
	return nil
}

// subjectScope: the branches in u's scope that hold live records of the
// subject.
func (s *Service) subjectScope(ctx context.Context, terms []string, u *User) ([]string, error) {
	recs, err := s.byTerms(ctx, terms)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range recs {
		if r.Kind != wire.KindTombstone && r.DeletedAt.IsZero() && u.InScope(r.Appliance) && !slices.Contains(out, r.Appliance) {
			out = append(out, r.Appliance)
		}
	}
	slices.Sort(out)
	return out, nil
}

// bulkBranches: what an erasure by subject may touch, the branches it
// was filed for within both the requester's scope (as it is now) and
// the approver's (or the viewer's).
func (s *Service) bulkBranches(ctx context.Context, r *Request, approver *User) ([]string, error) {
	req, err := getUser(ctx, s.db(), r.RequestedBy)
	if err != nil {
		return nil, fmt.Errorf("requester %s: %w", r.RequestedBy, err)
	}
	bs := intersect(intersect(r.Target.Scope, req), approver)
	if len(bs) == 0 {
		return nil, forbidden("no branch of this subject lies within both the requester's and the approver's scope")
	}
	return bs, nil
}

// noteCommand remembers a command a request queued.
func (s *Service) noteCommand(ctx context.Context, reqID, cmdID int64, app string) error {
	_, err := s.db().ExecContext(ctx, `INSERT INTO request_commands (request_id, command_id, appliance) VALUES (?, ?, ?)`, reqID, cmdID, app)
	return err
}

// erasing reports whether an approved erasure of the recording waits for
// its box: the recording is no longer served meanwhile.
func (s *Service) erasing(ctx context.Context, app, id string) bool {
	var n int
	if err := s.db().QueryRowContext(ctx, `SELECT COUNT(*) FROM commands WHERE appliance = ? AND recording = ? AND kind = ? AND done_at = ''`, app, id, wire.CmdErase).Scan(&n); err != nil {
		s.A.Logger.Error("pending erasures", "appliance", app, "id", id, "err", err)
		return true // not served while it cannot be told
	}
	return n > 0
}

// progress brings a request's state up to date: an export not downloaded
// in time expires; a request applying on boxes says on how many of them
// it is applied, and is done when every box applied it and the archive's
// own copy of every erased recording is gone (failed when a box refused).
func (s *Service) progress(ctx context.Context, r *Request) {
	if r.Kind == ReqExport && r.State == StateApproved && !r.Expires.IsZero() && !s.now().Before(r.Expires) {
		if res, err := s.db().ExecContext(ctx, `UPDATE requests SET state = ? WHERE id = ? AND state = ?`, StateExpired, r.ID, StateApproved); err == nil {
			if n, _ := res.RowsAffected(); n == 1 {
				s.audit(ctx, "export_expired", r.RequestedBy, r.Target.Appliance, fmt.Sprintf("request %d: not downloaded by %s", r.ID, r.Expires.Format(time.RFC3339)), false)
			}
		}
		r.State = StateExpired
		return
	}
	if r.State != StateApplying {
		return
	}
	// One query: each command the request queued, its answer, and whether
	// the archive still holds a live copy of what it erased.
	rows, err := s.db().QueryContext(ctx, `SELECT c.appliance, c.kind, c.recording, c.done_at, c.result, c.result_reason,
		(SELECT COUNT(*) FROM records x WHERE x.appliance = c.appliance AND x.id = c.recording AND x.kind = ? AND x.deleted_at = '')
		FROM request_commands rc JOIN commands c ON c.id = rc.command_id WHERE rc.request_id = ? ORDER BY c.id`, wire.KindRecording, r.ID)
	if err != nil {
		return
	}
	type box struct{ ok, open bool }
	per := map[string]*box{}
	var boxes []string
	var refusals []string
	for rows.Next() {
		var app, kind, rec, done, result, why string
		var live int
		if err := rows.Scan(&app, &kind, &rec, &done, &result, &why, &live); err != nil {
			rows.Close()
			return
		}
		b := per[app]
		if b == nil {
			b = &box{ok: true}
			per[app] = b
			boxes = append(boxes, app)
		}
		switch {
		case done == "":
			b.ok, b.open = false, true
		case result != wire.ResultApplied:
			b.ok = false
			refusals = append(refusals, fmt.Sprintf("%s refused %s %s: %s", app, kind, rec, why))
		case kind == wire.CmdErase && live > 0:
			b.ok, b.open = false, true // the archive's copy has not followed yet
		}
	}
	if rows.Close() != nil {
		return
	}
	applied, answered := 0, 0
	for _, app := range boxes {
		if per[app].ok {
			applied++
		}
		if !per[app].open {
			answered++
		}
	}
	r.Progress = fmt.Sprintf("applied on %d of %d boxes", applied, len(boxes))
	state := ""
	switch {
	case applied == len(boxes):
		state = StateDone
	case answered == len(boxes):
		state = StateFailed
		r.Result = strings.TrimPrefix(r.Result+"; "+strings.Join(refusals, "; "), "; ")
	default:
		return
	}
	res, err := s.db().ExecContext(ctx, `UPDATE requests SET state = ?, result = ? WHERE id = ? AND state = ?`, state, r.Result, r.ID, StateApplying)
	if err != nil {
		return
	}
	r.State = state
	if n, _ := res.RowsAffected(); n == 1 {
		s.audit(ctx, "request_"+state, r.DecidedBy, r.Target.Appliance, fmt.Sprintf("request %d %s by %s: %s", r.ID, r.Kind, r.RequestedBy, r.Progress), state == StateFailed)
	}
}

// Plan is what approving a request will do, as far as the reader's
// branches go: the approver decides on exactly this.
type Plan struct {
	Summary  string       `json:"summary"`
	Branches []PlanBranch `json:"branches,omitempty"`
}

// PlanBranch is an erasure by subject on one branch.
type PlanBranch struct {
	Branch string `json:"branch"`
	// Recordings: live recordings that will be erased on the box and at
	// the archive.
	Recordings int `json:"recordings"`
	// CallRecords: the subject's call records without audio there (an
	// erasure takes recordings; they stay).
	CallRecords int `json:"call_records"`
	// Refused: recordings that will be refused, each with the reason.
	Refused []string `json:"refused,omitempty"`
}

// plan says what approving r will do, for the reader u (a requester: as
// far as their scope goes; an approver: the branches both hold). Only
// requests still filed have one.
func (s *Service) plan(ctx context.Context, u *User, r *Request) *Plan {
	if r.State != StatePending {
		return nil
	}
	t := r.Target
	switch r.Kind {
	case ReqBulk:
		bs, err := s.bulkBranches(ctx, r, u)
		if err != nil {
			return &Plan{Summary: err.Error()}
		}
		recs, err := s.byTerms(ctx, t.Terms)
		if err != nil {
			return &Plan{Summary: err.Error()}
		}
		per := map[string]*PlanBranch{}
		for _, b := range bs {
			per[b] = &PlanBranch{Branch: b}
		}
		total, refused, cdrs := 0, 0, 0
		for _, rec := range recs {
			pb := per[rec.Appliance]
			if pb == nil || rec.Kind == wire.KindTombstone || !rec.DeletedAt.IsZero() {
				continue
			}
			switch {
			case rec.Kind == wire.KindCDR:
				pb.CallRecords++
				cdrs++
			case s.eraseRefusal(&rec) != "":
				pb.Refused = append(pb.Refused, s.eraseRefusal(&rec))
				refused++
			default:
				pb.Recordings++
				total++
			}
		}
		p := &Plan{}
		for _, b := range bs {
			p.Branches = append(p.Branches, *per[b])
		}
		numbers := t.Numbers
		if numbers == 0 { // filed before Numbers was kept
			numbers = len(t.Terms)
		}
		p.Summary = fmt.Sprintf("erase %d recordings of %d numbers on %d branches (%s), on each box at its next check-in and at the archive; %d refused (legal hold or retention duty); %d call records without audio stay",
			total, numbers, len(bs), strings.Join(bs, ", "), refused, cdrs)
		return p
	case ReqErase, ReqExport, ReqRelease:
		if !u.InScope(t.Appliance) {
			return &Plan{Summary: "branch " + t.Appliance + " is outside your scope"}
		}
		rec, err := s.recording(ctx, t.Appliance, t.Recording)
		if err != nil {
			return &Plan{Summary: fmt.Sprintf("%s/%s: %v", t.Appliance, t.Recording, err)}
		}
		what := fmt.Sprintf("recording %s/%s of %s (class %s)", rec.Appliance, rec.ID, rec.Start.UTC().Format("2006-01-02 15:04"), rec.Class)
		switch r.Kind {
		case ReqErase:
			if why := s.eraseRefusal(rec); why != "" {
				return &Plan{Summary: "will be refused: " + why}
			}
			return &Plan{Summary: "erase " + what + " on its box at the next check-in and at the archive; it is no longer played from approval on"}
		case ReqExport:
			return &Plan{Summary: fmt.Sprintf("%s may download %s once, within %s of approval", r.RequestedBy, what, exportTTL)}
		}
		return &Plan{Summary: "release the legal hold of " + what + " at the archive and on its box"}
	case ReqRole:
		_, cur := s.userObject(ctx, t.User)
		if cur == nil {
			return &Plan{Summary: "user " + t.User + " no longer exists"}
		}
		return &Plan{Summary: fmt.Sprintf("user %s: role %s on branches %s becomes role %s on branches %s; their sessions end",
			t.User, cur.Role, scopeString(cur.Branches, cur.AllBranches()), t.Role, scopeString(t.Branches, len(t.Branches) == 0))}
	}
	return s.planAccount(r)
}

// errExportUsed: 410, audited like every refusal.
var errExportUsed = &refusal{status: http.StatusGone, public: "this export was downloaded already or has expired: request a new one", why: "export already downloaded or expired"}

// exportable finds an export request u may download now: theirs,
// approved, not downloaded yet, not expired, its recording still within
// their scope (checked again now: scopes change) and u not suspended.
func (s *Service) exportable(ctx context.Context, u *User, id int64) (*Request, error) {
	o, req := s.requestObject(ctx, id)
	if err := s.authorize(ctx, u, ActExport, o); err != nil {
		return nil, err
	}
	switch {
	case req.Kind != ReqExport:
		return nil, httperr.BadRequest("not an export request")
	case req.RequestedBy != u.Name:
		return nil, forbidden("only the requester downloads an approved export")
	case req.State == StateDone || req.State == StateExpired:
		return nil, errExportUsed
	case req.State != StateApproved:
		return nil, forbidden(fmt.Sprintf("export request %d is %s: it needs a second person's approval", id, req.State))
	}
	if err := s.authorize(ctx, u, ActExport, s.recordingObject(ctx, req.Target.Appliance, req.Target.Recording)); err != nil {
		return nil, err
	}
	return req, nil
}

// claimExport uses an export up: one download, whoever asks first.
func (s *Service) claimExport(ctx context.Context, u *User, req *Request) error {
	res, err := s.db().ExecContext(ctx, `UPDATE requests SET used_at = ?, state = ? WHERE id = ? AND state = ? AND used_at = ''`, ts(s.now()), StateDone, req.ID, StateApproved)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errExportUsed
	}
	return nil
}

// usersInScope: an admin lists the users within their own scope.
func (s *Service) usersInScope(admin *User, us []*User) []*User {
	out := []*User{}
	for _, u := range us {
		if covers(admin, Object{Branches: u.Branches, AllBranches: u.AllBranches()}) {
			out = append(out, u)
		}
	}
	return out
}

// reviewed marks the end of a suspension's review: an access row
// "reviewed" (no recording), after which the insider count starts anew.
// The accesses before it stay as they were (Art. 15 reports show them).
func (s *Service) reviewed(ctx context.Context, name, by string) {
	if _, err := s.A.Index.AddAccess(ctx, s.now(), name, "reviewed", "", "by "+by); err != nil {
		s.A.Logger.Error("access log", "err", err)
	}
}

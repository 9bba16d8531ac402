package access

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/internal/httperr"
	"github.com/spanvault/spanvault/sync/wire"
)

// Request states: filed, then approved (an export: ready to download
// once), applying (commands wait for the boxes: Progress says "applied on
// N of M boxes"), done (every box applied it and the archive's own copies
// are gone; an export: downloaded), or failed, rejected, expired.
const (
	StatePending  = "filed"    // waiting for a second person
	StateApproved = "approved" // approved; an export waits for its one download
	StateApplying = "applying" // commands queued, not every box has applied them
	StateDone     = "done"     // carried out everywhere
	StateFailed   = "failed"   // approved, but the action was refused (Result says why)
	StateRejected = "rejected" // the second person said no
	StateExpired  = "expired"  // an approved export not downloaded in time
)

// Target is what a request acts on. A subject is held as its blind terms,
// never as numbers.
type Target struct {
	Appliance string   `json:"appliance,omitempty"`
	Recording string   `json:"recording,omitempty"`
	Terms     []string `json:"terms,omitempty"`
	// Numbers: for a subject, how many numbers were given (Terms holds
	// each one's every form).
	Numbers  int      `json:"numbers,omitempty"`
	User     string   `json:"user,omitempty"`
	Role     Role     `json:"role,omitempty"`
	Branches []string `json:"branches,omitempty"`
	// Scope: for a subject, the branches holding its records within the
	// requester's scope when it was filed.
	Scope []string `json:"scope,omitempty"`
	// Current, CurrentAll: for a role change, the user's branches when it
	// was filed (both admins must hold them).
	Current    []string `json:"current,omitempty"`
	CurrentAll bool     `json:"current_all,omitempty"`
}

// Request is a four-eyes request.
type Request struct {
	ID          int64     `json:"id"`
	Kind        string    `json:"kind"`
	Target      Target    `json:"target"`
	Reason      string    `json:"reason"`
	RequestedBy string    `json:"requested_by"`
	RequestedAt time.Time `json:"requested_at"`
	DecidedBy   string    `json:"decided_by,omitempty"`
	DecidedAt   time.Time `json:"decided_at,omitzero"`
	State       string    `json:"state"`
	Result      string    `json:"result,omitempty"`
	// Progress: "applied on N of M boxes" while applying.
	Progress string `json:"progress,omitempty"`
	// Expires: an approved export is downloaded once before then; Used:
	// when it was.
	Expires time.Time `json:"expires,omitzero"`
	Used    time.Time `json:"used,omitzero"`
	// Plan: what approving it will do, as far as the reader's branches go.
	Plan *Plan `json:"plan,omitempty"`
	// SetupLink: an approved addition's or reset's single-use link for
	// the user to set their own password and second factor (setup.go),
	// in the approver's reply only (never stored: the index keeps its
	// hash). The approver never sees the account's secrets.
	SetupLink string `json:"setup_link,omitempty"`
}

// RequestInput is what a user asks for (numbers for a subject erasure are
// turned into blind terms before anything is stored).
type RequestInput struct {
	Kind      string   `json:"kind"`
	Appliance string   `json:"appliance,omitempty"`
	Recording string   `json:"recording,omitempty"`
	Numbers   []string `json:"numbers,omitempty"`
	User      string   `json:"user,omitempty"`
	Role      string   `json:"role,omitempty"`
	Branches  []string `json:"branches,omitempty"`
	Reason    string   `json:"reason"`
}

// request files a four-eyes request; the checks that can refuse it now
// (scope, a legal retention duty, a hold) run now, and again at approval.
func (s *Service) request(ctx context.Context, u *User, in RequestInput) (*Request, error) {
	act, ok := requesters[in.Kind]
	if !ok {
		return nil, httperr.BadRequestf("unknown request kind %q (export, erase, release, role, bulk_erase)", in.Kind)
	}
	if err := s.authorize(ctx, u, act, Object{}); err != nil {
		return nil, err
	}
	if strings.TrimSpace(in.Reason) == "" {
		return nil, httperr.BadRequest("a request needs a reason")
	}
	t := Target{Appliance: in.Appliance, Recording: in.Recording}
	switch in.Kind {
	case ReqExport, ReqErase, ReqRelease:
		if err := s.authorize(ctx, u, act, s.recordingObject(ctx, in.Appliance, in.Recording)); err != nil {
			return nil, err
		}
		rec, err := s.recording(ctx, in.Appliance, in.Recording)
		if err != nil {
			return nil, err
		}
		if in.Kind == ReqErase {
			if why := s.eraseRefusal(rec); why != "" {
				return nil, httperr.BadRequest(why)
			}
		}
	case ReqBulk:
		if s.Keys == nil {
			return nil, errNoKeys
		}
		if len(in.Numbers) == 0 {
			return nil, httperr.BadRequest("bulk_erase needs numbers")
		}
		if len(in.Numbers) > maxSubjectNumbers {
			return nil, httperr.BadRequestf("bulk_erase takes at most %d numbers; file several requests", maxSubjectNumbers)
		}
		t.Numbers = len(in.Numbers)
		for _, n := range in.Numbers {
			t.Terms = append(t.Terms, s.numberTerms(n)...) // every form (search.go)
		}
		scope, err := s.subjectScope(ctx, t.Terms, u)
		if err != nil {
			return nil, err
		}
		if err := s.authorize(ctx, u, act, Object{Kind: "subject", Name: fmt.Sprintf("of %d numbers", len(in.Numbers)), Missing: len(scope) == 0}); err != nil {
			return nil, err
		}
		t.Scope = scope
	case ReqRole:
		r, err := ParseRole(in.Role)
		if err != nil {
			return nil, err
		}
		o, target := s.userObject(ctx, in.User)
		if err := s.authorize(ctx, u, act, o); err != nil {
			return nil, err
		}
		if err := s.checkGrant(ctx, u, target, r, in.Branches); err != nil {
			return nil, err
		}
		if err := s.roleRequestRefusal(ctx, u, in.User, r); err != nil { // bootstrap_guard.go
			return nil, err
		}
		t.User, t.Role, t.Branches = in.User, r, in.Branches
		t.Current, t.CurrentAll = target.Branches, target.AllBranches()
	}
	tj, _ := json.Marshal(t)
	req := &Request{Kind: in.Kind, Target: t, Reason: in.Reason, RequestedBy: u.Name, RequestedAt: s.now().UTC(), State: StatePending}
	var id int64
	err := s.db().QueryRowContext(ctx, `INSERT INTO requests (action, target, reason, requested_by, requested_at, state) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
		req.Kind, string(tj), req.Reason, req.RequestedBy, ts(req.RequestedAt), req.State).Scan(&id)
	if err != nil {
		return nil, err
	}
	req.ID = id
	req.Plan = s.plan(ctx, u, req)
	s.audit(ctx, "request_filed", u.Name, t.Appliance, fmt.Sprintf("request %d %s %s", id, req.Kind, describeTarget(t)), false)
	return req, nil
}

func describeTarget(t Target) string {
	switch {
	case t.User != "":
		return fmt.Sprintf("user %s -> role %s branches %s", t.User, t.Role, strings.Join(t.Branches, ","))
	case len(t.Terms) > 0:
		short := make([]string, len(t.Terms))
		for i, x := range t.Terms {
			short[i] = x[:12]
		}
		return "subject terms " + strings.Join(short, ",")
	default:
		return "recording " + t.Appliance + "/" + t.Recording
	}
}

// eraseRefusal says why a recording may not be erased now ("" if it may).
func (s *Service) eraseRefusal(r *index.Record) string {
	if r.Hold {
		return fmt.Sprintf("%s/%s is on legal hold: erasure refused until the hold is released", r.Appliance, r.ID)
	}
	if slices.Contains(s.A.Config.LegalRetention, r.Class) && s.now().Before(r.RetainUntil) {
		return fmt.Sprintf("%s/%s (class %s) is under a legal retention duty until %s: erasure refused (GDPR Art. 17(3)(b))", r.Appliance, r.ID, r.Class, r.RetainUntil.UTC().Format("2006-01-02"))
	}
	return ""
}

func (s *Service) getRequest(ctx context.Context, id int64) (*Request, error) {
	rs, err := s.requests(ctx, id)
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return nil, errNotFound
	}
	return rs[0], nil
}

// requests lists requests (one when id > 0), newest first.
func (s *Service) requests(ctx context.Context, id int64) ([]*Request, error) {
	q := `SELECT id, action, target, reason, requested_by, requested_at, decided_by, decided_at, state, result, expires_at, used_at FROM requests`
	var args []any
	if id > 0 {
		q += ` WHERE id = ?`
		args = append(args, id)
	}
	rows, err := s.db().QueryContext(ctx, q+` ORDER BY id DESC LIMIT 500`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Request
	for rows.Next() {
		r := &Request{}
		var tj, ra, da, ex, us string
		if err := rows.Scan(&r.ID, &r.Kind, &tj, &r.Reason, &r.RequestedBy, &ra, &r.DecidedBy, &da, &r.State, &r.Result, &ex, &us); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(tj), &r.Target); err != nil {
			return nil, fmt.Errorf("access: request %d: stored target: %w", r.ID, err)
		}
		r.RequestedAt, r.DecidedAt, r.Expires, r.Used = parseTS(ra), parseTS(da), parseTS(ex), parseTS(us)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	for _, r := range out {
		s.progress(ctx, r)
	}
	return out, nil
}

// decide approves (and carries out) or rejects a request: a different
// person from the requester, whose role approves that kind, within scope.
func (s *Service) decide(ctx context.Context, u *User, id int64, approve bool) (*Request, error) {
	if !mayApproveAny(u.Role) {
		return nil, forbidden(fmt.Sprintf("role %s decides no requests", u.Role))
	}
	o, r := s.requestObject(ctx, id)
	if err := s.authorize(ctx, u, "", o); err != nil {
		return nil, err
	}
	switch {
	case r.State != StatePending:
		return nil, httperr.BadRequestf("request %d is %s already", id, r.State)
	case r.RequestedBy == u.Name:
		return nil, forbidden("four eyes: the requester may not decide their own request")
	case !s.mayDecide(u, r):
		return nil, forbidden(fmt.Sprintf("role %s may not decide this %s request (its kind or its branches)", u.Role, r.Kind))
	case r.Kind == ReqRole && r.Target.User == u.Name:
		return nil, forbidden("nobody approves a change of their own role")
	}
	if r.Kind == ReqRole && approve {
		// The approver is bound by the same rules as the requester.
		_, target := s.userObject(ctx, r.Target.User)
		if target == nil {
			return nil, hidden("user", "user "+r.Target.User+": unknown")
		}
		if err := s.checkGrant(ctx, u, target, r.Target.Role, r.Target.Branches); err != nil {
			return nil, err
		}
		if r.RequestedBy == r.Target.User {
			return nil, forbidden("nobody files a change of their own role: another admin does")
		}
		if err := s.keepsAdmins(ctx, r.Target.User, r.Target.Role); err != nil {
			return nil, err
		}
	}
	if approve && issuesSetup(r.Kind) {
		if _, err := s.setupBase(); err != nil { // setup_base.go: before anything changes
			return nil, err
		}
	}
	// Claim it first, so that two approvers at once carry it out once.
	state := StateRejected
	if approve {
		state = StateApproved
	}
	res, err := s.db().ExecContext(ctx, `UPDATE requests SET decided_by = ?, decided_at = ?, state = ? WHERE id = ? AND state = ?`, u.Name, ts(s.now()), state, id, StatePending)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, httperr.BadRequestf("request %d was decided by someone else just now", id)
	}
	r.DecidedBy, r.DecidedAt = u.Name, s.now().UTC()
	if !approve {
		r.State = StateRejected
		s.audit(ctx, "request_rejected", u.Name, r.Target.Appliance, fmt.Sprintf("request %d %s by %s", id, r.Kind, r.RequestedBy), false)
		return r, nil
	}
	r.State, r.Result = StateDone, ""
	switch r.Kind {
	case ReqExport:
		r.State, r.Expires = StateApproved, s.now().Add(exportTTL).UTC()
	case ReqErase, ReqRelease, ReqBulk:
		r.State = StateApplying
	}
	if err := s.carryOut(ctx, u, r); err != nil {
		r.State, r.Result = StateFailed, err.Error()
	}
	if _, err := s.db().ExecContext(ctx, `UPDATE requests SET state = ?, result = ?, expires_at = ? WHERE id = ?`, r.State, r.Result, tsOrEmpty(r.Expires), id); err != nil {
		return nil, fmt.Errorf("access: request %d: %w", id, err)
	}
	s.progress(ctx, r)
	s.audit(ctx, "request_approved", u.Name, r.Target.Appliance, fmt.Sprintf("request %d %s by %s: %s %s", id, r.Kind, r.RequestedBy, r.State, r.Result), false)
	return r, nil
}

func (s *Service) carryOut(ctx context.Context, approver *User, r *Request) error {
	by := r.RequestedBy + "+" + r.DecidedBy
	t := r.Target
	switch r.Kind {
	case ReqExport:
		// The requester downloads it (GET /api/v1/requests/ID/export).
		_, err := s.recording(ctx, t.Appliance, t.Recording)
		return err
	case ReqErase:
		rec, err := s.recording(ctx, t.Appliance, t.Recording)
		if err != nil {
			return err
		}
		if why := s.eraseRefusal(rec); why != "" {
			return httperr.BadRequest(why)
		}
		s.cache.drop(rec.SHA256)
		levelsOf.drop(rec.SHA256)
		cid, err := s.A.Command(ctx, t.Appliance, wire.CmdErase, t.Recording, false, r.Reason, by)
		if err != nil {
			return err
		}
		return s.noteCommand(ctx, r.ID, cid, t.Appliance)
	case ReqRelease:
		cid, err := s.A.Command(ctx, t.Appliance, wire.CmdRelease, t.Recording, false, r.Reason, by)
		if err != nil {
			return err
		}
		return s.noteCommand(ctx, r.ID, cid, t.Appliance)
	case ReqRole:
		return s.setRole(ctx, t.User, t.Role, t.Branches)
	case ReqBulk:
		branches, err := s.bulkBranches(ctx, r, approver)
		if err != nil {
			return err
		}
		res, err := s.eraseSubject(ctx, r.ID, t.Terms, branches, r.Reason, by)
		r.Result = res
		return err
	case ReqReset:
		return s.carryOutReset(ctx, r)
	case ReqAddUser:
		return s.carryOutAddUser(ctx, approver, r)
	}
	return httperr.BadRequestf("unknown request kind %q", r.Kind)
}

// eraseSubject erases every recording of a subject on the given branches
// (those both people hold) at the archive and on its box (sync commands),
// refusing, with the reason, those under hold or a legal retention duty.
// The result counts per branch.
func (s *Service) eraseSubject(ctx context.Context, reqID int64, terms []string, branches []string, reason, by string) (string, error) {
	recs, err := s.byTerms(ctx, terms)
	if err != nil {
		return "", err
	}
	type count struct{ queued, refused int }
	per := map[string]*count{}
	var refusals []string
	for _, rec := range recs {
		if rec.Kind != wire.KindRecording || !rec.DeletedAt.IsZero() || !slices.Contains(branches, rec.Appliance) {
			continue
		}
		c := per[rec.Appliance]
		if c == nil {
			c = &count{}
			per[rec.Appliance] = c
		}
		if why := s.eraseRefusal(&rec); why != "" {
			c.refused++
			refusals = append(refusals, why)
			continue
		}
		s.cache.drop(rec.SHA256)
		levelsOf.drop(rec.SHA256)
		cid, err := s.A.Command(ctx, rec.Appliance, wire.CmdErase, rec.ID, false, reason, by)
		if err != nil {
			c.refused++
			refusals = append(refusals, err.Error())
			continue
		}
		if err := s.noteCommand(ctx, reqID, cid, rec.Appliance); err != nil {
			return "", err
		}
		c.queued++
	}
	var b strings.Builder
	names := make([]string, 0, len(per))
	for n := range per {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(&b, "%s: %d erasures queued, %d refused; ", n, per[n].queued, per[n].refused)
	}
	for _, r := range refusals {
		b.WriteString(r + "; ")
	}
	return strings.TrimSuffix(b.String(), "; "), nil
}

// byTerms lists every record (tombstones included) the blind index links
// to any of the terms.
func (s *Service) byTerms(ctx context.Context, terms []string) ([]index.Record, error) {
	if _, err := s.IndexPending(ctx); err != nil {
		return nil, err
	}
	if len(terms) == 0 {
		return nil, nil
	}
	q := `SELECT DISTINCT r.appliance, r.id, r.kind, r.start, r.class, r.retain_until, r.hold, r.recorded, r.size, r.sha256, r.deleted_at, r.entry, r.sealed, r.subject, r.received_at
		FROM search_terms t JOIN records r ON r.appliance = t.appliance AND r.id = t.id AND r.kind = t.kind
		WHERE t.term IN (?` + strings.Repeat(", ?", len(terms)-1) + `) ORDER BY r.start, r.appliance, r.id, r.kind`
	rows, err := s.db().QueryContext(ctx, q, toAny(terms)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []index.Record
	for rows.Next() {
		var r index.Record
		var st, ru, del, rec string
		if err := rows.Scan(&r.Appliance, &r.ID, &r.Kind, &st, &r.Class, &ru, &r.Hold, &r.Recorded, &r.Size, &r.SHA256, &del, &r.Entry, &r.Sealed, &r.Subject, &rec); err != nil {
			return nil, err
		}
		r.Start, r.RetainUntil, r.DeletedAt, r.ReceivedAt = parseTS(st), parseTS(ru), parseTS(del), parseTS(rec)
		out = append(out, r)
	}
	return out, rows.Err()
}

var _ = sql.ErrNoRows

package access

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/internal/httperr"
	"github.com/spanvault/spanvault/sync/wire"
)

// Work queues of the web workspace (issue 23): the DPO's inbox (alerts,
// suspensions to review, requests to decide with what they will do,
// erasures by subject with their progress per box), the Art. 15 report as
// a document for the data subject (HTML, PDF) and as JSON for the file,
// users added through four eyes, and the auditor's trail browser. Every
// page goes through need (role) and filters by the reader's branches;
// every read of personal data is audited.

func (s *Service) queueRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /inbox", s.web(ActClear, s.webInbox))
	m.HandleFunc("POST /subject/document", s.web(ActSubject, s.webSubjectDocument))
	m.HandleFunc("GET /users/new", s.web(ActUsers, s.webNewUser))
	m.HandleFunc("POST /users/new", s.web(ActUsers, s.webAddUser))
}

// inboxPage: what waits for the reader (a DPO, an admin).
type inboxPage struct {
	pageHead
	Alerts    []index.Event
	Suspended []*User
	Decide    []*Request
	Subjects  []subjectProgress
}

// subjectProgress is an erasure by subject and how far each box got.
type subjectProgress struct {
	*Request
	Boxes []BoxProgress
}

// BoxProgress is what one box did of the commands a request queued.
type BoxProgress struct {
	Box      string
	Queued   int // commands queued for the box
	Waiting  int // not yet answered
	Applied  int
	Refused  int
	Archived int // erased at the box, the archive's copy not yet gone
}

// maxInboxAlerts is how many of the newest alerts the inbox lists.
const maxInboxAlerts = 50

func (s *Service) webInbox(w http.ResponseWriter, r *http.Request, ss *session) {
	ctx := r.Context()
	u := ss.user
	p := inboxPage{pageHead: pageHead{Title: "Inbox", Error: queryMessage(r)}} // known keys only (messages.go)
	us, err := ListUsers(ctx, s.db())
	if err != nil {
		s.fail(w, r, ss, err)
		return
	}
	byName := map[string]*User{}
	for _, x := range us {
		byName[x.Name] = x
	}
	for _, x := range s.usersInScope(u, us) {
		if x.Suspended != "" {
			p.Suspended = append(p.Suspended, x)
		}
	}
	es, err := s.A.Index.Events(ctx, "", true)
	if err != nil {
		s.fail(w, r, ss, err)
		return
	}
	loc := s.zone()
	for i := len(es) - 1; i >= 0 && len(p.Alerts) < maxInboxAlerts; i-- {
		if s.alertInScope(u, es[i], byName) {
			es[i].Time = es[i].Time.In(loc)
			p.Alerts = append(p.Alerts, es[i])
		}
	}
	rs, err := s.requests(ctx, 0)
	if err != nil {
		s.fail(w, r, ss, err)
		return
	}
	for _, q := range rs {
		if q.State == StatePending && q.RequestedBy != u.Name && s.mayDecide(u, q) {
			q.Plan = s.plan(ctx, u, q)
			p.Decide = append(p.Decide, q)
		}
		if q.Kind == ReqBulk && s.maysee(u, q) {
			bp, err := s.boxProgress(ctx, q.ID, u)
			if err != nil {
				s.fail(w, r, ss, err)
				return
			}
			p.Subjects = append(p.Subjects, subjectProgress{Request: q, Boxes: bp})
		}
	}
	s.audit(ctx, "inbox_read", u.Name, "", fmt.Sprintf("%d alerts, %d suspensions, %d requests to decide, %d erasures by subject", len(p.Alerts), len(p.Suspended), len(p.Decide), len(p.Subjects)), false)
	s.page(w, r, ss, "inbox", p)
}

// alertInScope: an alert about a branch is the branch's; one about a
// user is theirs (it is shown to whoever covers the user's branches);
// anything else only to an unscoped reader.
func (s *Service) alertInScope(u *User, e index.Event, users map[string]*User) bool {
	if e.Appliance != "" {
		return u.InScope(e.Appliance)
	}
	if a := users[e.Actor]; a != nil {
		return covers(u, Object{Branches: a.Branches, AllBranches: a.AllBranches()})
	}
	return u.AllBranches()
}

// boxProgress counts per box the commands request id queued, as far as
// u's branches go.
func (s *Service) boxProgress(ctx context.Context, id int64, u *User) ([]BoxProgress, error) {
	rows, err := s.db().QueryContext(ctx, `SELECT c.appliance, c.kind, c.done_at, c.result,
		(SELECT COUNT(*) FROM records x WHERE x.appliance = c.appliance AND x.id = c.recording AND x.kind = ? AND x.deleted_at = '')
		FROM request_commands rc JOIN commands c ON c.id = rc.command_id WHERE rc.request_id = ? ORDER BY c.appliance, c.id`, wire.KindRecording, id)
	if err != nil {
		return nil, fmt.Errorf("access: progress of request %d: %w", id, err)
	}
	defer rows.Close()
	var out []BoxProgress
	for rows.Next() {
		var app, kind, done, result string
		var live int
		if err := rows.Scan(&app, &kind, &done, &result, &live); err != nil {
			return nil, fmt.Errorf("access: progress of request %d: %w", id, err)
		}
		if !u.InScope(app) {
			continue
		}
		if len(out) == 0 || out[len(out)-1].Box != app {
			out = append(out, BoxProgress{Box: app})
		}
		b := &out[len(out)-1]
		b.Queued++
		switch {
		case done == "":
			b.Waiting++
		case result != wire.ResultApplied:
			b.Refused++
		case kind == wire.CmdErase && live > 0:
			b.Archived++
		default:
			b.Applied++
		}
	}
	return out, rows.Err()
}

// numbersOf reads numbers typed one per line (or separated by commas).
func numbersOf(v string) []string {
	var out []string
	for _, l := range strings.FieldsFunc(v, func(r rune) bool { return r == '\n' || r == ',' || r == ';' }) {
		if l = strings.TrimSpace(l); l != "" && !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

// maxSubjectNumbers bounds the numbers of one report or erasure.
const maxSubjectNumbers = 20

// checkedSubjectReport bounds what one report asks for.
func (s *Service) checkedSubjectReport(ctx context.Context, u *User, nums []string) (*SubjectReport, error) {
	switch {
	case len(nums) == 0:
		return nil, httperr.BadRequest("give the data subject's numbers, one per line")
	case len(nums) > maxSubjectNumbers:
		return nil, httperr.BadRequestf("at most %d numbers per report", maxSubjectNumbers)
	}
	return s.subjectReport(ctx, u, nums)
}

// webSubjectDocument answers POST /subject/document: the report as a PDF
// for the data subject or as JSON for the file, downloaded.
func (s *Service) webSubjectDocument(w http.ResponseWriter, r *http.Request, ss *session) {
	format := r.FormValue("format")
	if format != "pdf" && format != "json" {
		s.writeError(w, r, ss, httperr.BadRequest("format: pdf or json"))
		return
	}
	rep, err := s.checkedSubjectReport(r.Context(), ss.user, numbersOf(r.FormValue("numbers")))
	if err != nil {
		s.fail(w, r, ss, err)
		return
	}
	s.audit(r.Context(), "subject_report_document", ss.user.Name, "", fmt.Sprintf("%s: %d held, %d deleted", format, len(rep.Items), len(rep.Deleted)), false)
	name := "art15-" + rep.Generated.Format("20060102-150405")
	if format == "json" {
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.json"`)
		writeJSON(w, http.StatusOK, rep)
		return
	}
	b, err := s.art15PDF(s.art15(r, rep), readerLanguage(r))
	if err != nil {
		s.fail(w, r, ss, err)
		return
	}
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.pdf"`)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}

// zone is where the pages show times: the configured time zone (UTC
// when it names none or an unknown one).
func (s *Service) zone() *time.Location {
	if s.cfg.TimeZone != "" {
		if l, err := time.LoadLocation(s.cfg.TimeZone); err == nil {
			return l
		}
	}
	return time.UTC
}

// newUserPage: the form to add a user, with the branches the admin may
// grant.
type newUserPage struct {
	pageHead
	Roles    []Role
	Branches []string
	Filed    *Request
}

func (s *Service) webNewUser(w http.ResponseWriter, r *http.Request, ss *session) {
	s.newUserForm(w, r, ss, 0, newUserPage{})
}

func (s *Service) newUserForm(w http.ResponseWriter, r *http.Request, ss *session, status int, p newUserPage) {
	aps, err := s.A.Index.Appliances(r.Context())
	if err != nil {
		s.fail(w, r, ss, err)
		return
	}
	for _, a := range aps {
		if ss.user.InScope(a.Name) {
			p.Branches = append(p.Branches, a.Name)
		}
	}
	p.Roles, p.Title = Roles, "Add a user"
	s.renderPage(w, r, ss, status, "useradd", p)
}

// webAddUser files the four-eyes request to add a user: a second
// administrator approves it and receives the one-time credentials.
func (s *Service) webAddUser(w http.ResponseWriter, r *http.Request, ss *session) {
	if err := r.ParseForm(); err != nil {
		s.writeError(w, r, ss, httperr.BadRequest("the form does not parse"))
		return
	}
	req, err := s.requestAddUser(r.Context(), ss.user, r.PostForm.Get("name"), r.PostForm.Get("role"), r.PostForm["branch"], r.PostForm.Get("reason"))
	if err != nil {
		if msg, ok := shown(err); ok {
			s.newUserForm(w, r, ss, http.StatusBadRequest, newUserPage{pageHead: pageHead{Error: msg}})
			return
		}
		s.fail(w, r, ss, err)
		return
	}
	s.newUserForm(w, r, ss, 0, newUserPage{Filed: req})
}

package access

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/internal/httperr"
	"github.com/spanvault/spanvault/sync/wire"
)

// Zero-touch enrollment at the access service: an admin of every branch
// (ActEnroll; a branch-scoped admin neither lists nor approves: 403
// before any code is looked up) lists the boxes waiting with their
// codes' first characters only, and approves one as a name by typing the
// full code read off the box, here as with spanvault-archive approve,
// under the four-eyes rule when [enroll] four_eyes is set, and always for
// a replacement of an enrolled name's box (archive.ApproveFourEyes). A
// code that names no pending request is 404 and approves nothing. No
// personal data: code prefixes, sources and times.

// Enrollment is a pending request as the page and API show it. Code is
// the code's first CodeShown characters and "…": the list helps to find a
// box, it never hands out what approves it (the admin types the full
// code read off the box).
type Enrollment struct {
	Code        string    `json:"code"`
	Source      string    `json:"source"`
	RequestedAt time.Time `json:"requested_at"`
	ExpiresAt   time.Time `json:"expires_at"`
	// FiledBy, FiledName: under four-eyes, the first admin's approval.
	FiledBy   string `json:"filed_by,omitempty"`
	FiledName string `json:"filed_name,omitempty"`
}

// ApproveEnrollment is POST /api/v1/enrollments/approve's body.
type ApproveEnrollment struct {
	Code string `json:"code"`
	Name string `json:"name"`
	// Replace is the reason of an explicit replacement of an enrolled
	// name's box (empty: a new name).
	Replace string `json:"replace,omitempty"`
}

type enrollPage struct {
	pageHead
	Pending  []Enrollment
	FourEyes bool
	Done     string
}

func (s *Service) enrollRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /api/v1/enrollments", s.need(ActEnroll, s.apiEnrollments))
	m.HandleFunc("POST /api/v1/enrollments/approve", s.need(ActEnroll, s.apiApproveEnrollment))
	m.HandleFunc("GET /fleet/enroll", s.web(ActEnroll, s.webEnroll))
	m.HandleFunc("POST /web/enroll", s.web(ActEnroll, s.webApproveEnrollment))
}

// CodeShown is how many characters of a pending code the list shows.
const CodeShown = 4

func (s *Service) pendingEnrollments(ctx context.Context, u *User) ([]Enrollment, error) {
	if !u.AllBranches() {
		return nil, forbidden("an admin scoped to branches may not enrol a box (a new branch)")
	}
	es, err := s.A.Index.PendingEnrollments(ctx, s.now())
	if err != nil {
		return nil, err
	}
	out := []Enrollment{}
	for _, e := range es {
		out = append(out, Enrollment{Code: e.Code[:min(CodeShown, len(e.Code))] + "…", Source: e.Source, RequestedAt: e.RequestedAt, ExpiresAt: e.ExpiresAt, FiledBy: e.FiledBy, FiledName: e.FiledName})
	}
	return out, nil
}

// approveEnrollment approves (or files, under four-eyes) for the user.
func (s *Service) approveEnrollment(ctx context.Context, u *User, in ApproveEnrollment) (bool, error) {
	// Scope first: a scoped admin learns nothing of which codes exist.
	if !u.AllBranches() {
		return false, forbidden("an admin scoped to branches may not enrol a box (a new branch)")
	}
	if strings.TrimSpace(in.Code) == "" || strings.TrimSpace(in.Name) == "" {
		return false, httperr.BadRequest("code and name are required")
	}
	code := wire.NormalizeCode(in.Code)
	if e, err := s.A.Index.Enrollment(ctx, code); code == "" || errors.Is(err, index.ErrNoEnrollment) || (err == nil && !e.ApprovedAt.IsZero()) {
		return false, hidden("pending enrollment request with this code", "approval of code "+strings.TrimSpace(in.Code)+": "+archive.ErrTextNoCode)
	} else if err != nil {
		return false, err
	}
	ok, err := s.A.ApproveFourEyes(ctx, in.Code, in.Name, u.Name, strings.TrimSpace(in.Replace))
	if errors.Is(err, archive.ErrEnrollCode) {
		return false, hidden("pending enrollment request with this code", archive.ErrTextNoCode)
	}
	if err != nil {
		return false, httperr.BadRequest(strings.TrimPrefix(err.Error(), "archive: "))
	}
	return ok, nil
}

func (s *Service) apiEnrollments(w http.ResponseWriter, r *http.Request, ss *session) {
	es, err := s.pendingEnrollments(r.Context(), ss.user)
	if err != nil {
		s.fail(w, r, ss, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"pending": es})
}

func (s *Service) apiApproveEnrollment(w http.ResponseWriter, r *http.Request, ss *session) {
	var in ApproveEnrollment
	if err := decodeBody(r, &in); err != nil {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	ok, err := s.approveEnrollment(r.Context(), ss.user, in)
	if err != nil {
		s.fail(w, r, ss, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"approved": ok})
}

func (s *Service) webEnroll(w http.ResponseWriter, r *http.Request, ss *session) {
	s.renderEnroll(w, r, ss, 0, "", "")
}

func (s *Service) renderEnroll(w http.ResponseWriter, r *http.Request, ss *session, status int, done, problem string) {
	es, err := s.pendingEnrollments(r.Context(), ss.user)
	if err != nil {
		s.fail(w, r, ss, err)
		return
	}
	s.renderPage(w, r, ss, status, "enroll", enrollPage{pageHead: pageHead{Title: "Enrollment", Error: problem}, Pending: es, FourEyes: s.A.Config.Enroll.FourEyes, Done: done})
}

func (s *Service) webApproveEnrollment(w http.ResponseWriter, r *http.Request, ss *session) {
	in := ApproveEnrollment{Code: r.FormValue("code"), Name: r.FormValue("name"), Replace: r.FormValue("replace")}
	ok, err := s.approveEnrollment(r.Context(), ss.user, in)
	var he *httperr.Error
	switch {
	case errors.As(err, &he) && he.Code < 500 && he.Code != http.StatusForbidden:
		s.renderEnroll(w, r, ss, he.Code, "", he.Msg)
	case err != nil:
		s.fail(w, r, ss, err)
	case ok:
		s.renderEnroll(w, r, ss, 0, "Approved: the box receives its certificates at its next request.", "")
	default:
		s.renderEnroll(w, r, ss, 0, "Filed: a second admin confirms the approval (four eyes).", "")
	}
}

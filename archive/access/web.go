package access

import (
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"
)

//go:embed web
var webFiles embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"can":   func(u *User, a string) bool { return u != nil && Allowed(u.Role, Action(a)) },
	"T":     func(key string, args ...any) string { return key }, // replaced per language (i18n.go)
	"at":    formatAt,
	"day":   formatDay,
	"list":  func(xs ...string) []string { return xs },
	"party": party,
}).ParseFS(webFiles, "web/*.html"))

type pageData struct {
	Lang  string         // BCP 47 tag of the reader's language (i18n.go)
	Loc   *time.Location // the reader's zone (shell.go); times are shown in it
	Path  string         // the page's path and query, for the language switch
	Title string
	User  *User
	CSRF  string
	Error string
	Data  any
}

var titles = map[string]string{
	"signin": "Sign in", "password": "Change your password", "search": "Search recordings", "recording": "Recording",
	"links": "Streaming links", "requests": "Requests (four eyes)", "subject": "Subject requests", "subject_report": "Subject access report (GDPR Art. 15)",
	"fleet": "Fleet", "audit": "Audit trail", "users": "Users", "message": "",
}

// page renders a template with its typed data (pages.go), status 200.
// Errors for the user come in the data's pageHead.
func (s *Service) page(w http.ResponseWriter, r *http.Request, ss *session, name string, data any) {
	s.renderPage(w, r, ss, 0, name, data)
}

func (s *Service) webRoutes(m *http.ServeMux) {
	static, _ := fs.Sub(webFiles, "web")
	m.Handle("GET /static/", http.StripPrefix("/static/", staticOnly(http.FileServerFS(static))))
	m.HandleFunc("GET /signin", func(w http.ResponseWriter, r *http.Request) {
		s.page(w, r, nil, "signin", signinPage{Next: localPath(r.URL.Query().Get("next"))})
	})
	m.HandleFunc("GET /lang", s.webLang)
	m.HandleFunc("POST /signin", s.webSignIn)
	m.HandleFunc("POST /signout", s.need("", s.apiSignOutWeb))
	m.HandleFunc("GET /password", s.need("", func(w http.ResponseWriter, r *http.Request, ss *session) { s.page(w, r, ss, "password", nil) }))
	m.HandleFunc("POST /password", s.need("", s.webPassword))
	m.HandleFunc("GET /{$}", s.web("", s.webHome))
	m.HandleFunc("GET /search", s.web(ActSearch, s.webSearch))
	m.HandleFunc("GET /r/{app}/{id}", s.web("", s.webRecording)) // searchers and the auditor (recording.go)
	m.HandleFunc("GET /r/{app}/{id}/levels.svg", s.web(ActSearch, s.webLevels))
	m.HandleFunc("GET /links", s.web(ActLink, func(w http.ResponseWriter, r *http.Request, ss *session) { s.page(w, r, ss, "links", linksPage{}) }))
	m.HandleFunc("POST /links", s.web(ActLink, s.webMintLink))
	m.HandleFunc("GET /requests", s.web("", s.webRequests))
	m.HandleFunc("POST /web/request", s.web("", s.webRequest))
	m.HandleFunc("POST /web/decide/{id}", s.web("", s.webDecide))
	m.HandleFunc("POST /web/requests/{id}/evidence", s.web(ActExport, s.webEvidence))
	m.HandleFunc("GET /subject", s.web(ActSubject, func(w http.ResponseWriter, r *http.Request, ss *session) { s.page(w, r, ss, "subject", nil) }))
	m.HandleFunc("POST /subject", s.web(ActSubject, s.webSubject))
	m.HandleFunc("GET /fleet", s.web(ActFleet, s.webFleet))
	m.HandleFunc("GET /audit", s.web(ActAudit, s.webTrail))
	m.HandleFunc("GET /users", s.web(ActUsers, s.webUsers))
	m.HandleFunc("POST /web/clear/{name}", s.web(ActClear, s.webClear))
	m.HandleFunc("POST /web/users/{name}/{op}", s.web(ActUsers, s.webAccount))
	s.enrollRoutes(m)
	s.updateRoutes(m)
	s.setupRoutes(m)
}

// staticOnly serves files, never directory listings.
func staticOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") || r.URL.Path == "" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}

// web is need for pages: a user still on the one-time password is sent
// to change it first.
func (s *Service) web(act Action, h handler) http.HandlerFunc {
	return s.need(act, func(w http.ResponseWriter, r *http.Request, ss *session) {
		if ss.user.MustChange && !ss.bearer {
			http.Redirect(w, r, "/password", http.StatusSeeOther)
			return
		}
		h(w, r, ss)
	})
}

func (s *Service) webSignIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	u, err := s.signInRequest(r, r.FormValue("name"), r.FormValue("password"), r.FormValue("totp"), forPassword)
	if err != nil {
		st := signInStatus(w, err)
		if st == http.StatusInternalServerError {
			s.writeError(w, r, nil, err)
			return
		}
		s.renderPage(w, r, nil, st, "signin", signinPage{pageHead: pageHead{Error: err.Error()}, Next: localPath(r.FormValue("next"))})
		return
	}
	tok, _, err := s.newSession(r.Context(), u)
	if err != nil {
		s.writeError(w, r, nil, fmt.Errorf("session: %w", err))
		return
	}
	s.audit(r.Context(), "signin", u.Name, "", "web, from "+remoteIP(r), false)
	setCookie(w, tok)
	if u.MustChange {
		http.Redirect(w, r, "/password", http.StatusSeeOther)
		return
	}
	next := localPath(r.FormValue("next"))
	if next == "" {
		next = "/"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Service) apiSignOutWeb(w http.ResponseWriter, r *http.Request, ss *session) {
	s.apiSignOut(discardStatus{w}, r, ss)
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

type discardStatus struct{ http.ResponseWriter }

func (discardStatus) WriteHeader(int) {}

func (s *Service) webPassword(w http.ResponseWriter, r *http.Request, ss *session) {
	u, err := s.changePassword(r, ss.user.Name, r.FormValue("current"), r.FormValue("totp"), r.FormValue("password"))
	if err != nil {
		st := signInStatus(w, err)
		if st == http.StatusInternalServerError {
			s.writeError(w, r, ss, err)
			return
		}
		s.renderPage(w, r, ss, st, "password", messagePage{pageHead: pageHead{Error: err.Error()}})
		return
	}
	tok, _, err := s.newSession(r.Context(), u)
	if err != nil {
		s.writeError(w, r, ss, fmt.Errorf("session: %w", err))
		return
	}
	setCookie(w, tok)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Service) webHome(w http.ResponseWriter, r *http.Request, ss *session) {
	to := "/requests"
	switch {
	case Allowed(ss.user.Role, ActSearch):
		to = "/search"
	case Allowed(ss.user.Role, ActLink):
		to = "/links"
	case Allowed(ss.user.Role, ActFleet):
		to = "/fleet"
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func (s *Service) webSearch(w http.ResponseWriter, r *http.Request, ss *session) {
	data, err := s.searchPageOf(r, ss.user)
	if err != nil {
		msg, ok := shown(err)
		if !ok {
			s.fail(w, r, ss, err)
			return
		}
		data.Error = msg
	}
	s.page(w, r, ss, "search", data)
}

func (s *Service) webMintLink(w http.ResponseWriter, r *http.Request, ss *session) {
	ttl, err := time.ParseDuration(r.FormValue("ttl"))
	var data linksPage
	if err != nil {
		data.Error = "valid for: " + err.Error()
		s.page(w, r, ss, "links", data)
		return
	}
	rec := r.FormValue("recording")
	o, err := s.recordingByID(r.Context(), ss.user, rec)
	if err != nil {
		msg, ok := shown(err)
		if !ok {
			s.fail(w, r, ss, err)
			return
		}
		data.Error = msg
		s.page(w, r, ss, "links", data)
		return
	}
	if !s.check(w, r, ss, ActLink, o) {
		return
	}
	app := o.Branches[0]
	base, _ := s.linkBase() // mintLink refuses without it
	l, err := s.mintLink(r.Context(), ss.user, app, rec, ttl, r.FormValue("network"), base)
	if err != nil {
		msg, ok := shown(err)
		if !ok {
			s.fail(w, r, ss, err)
			return
		}
		data.Error = msg
	} else {
		data.Link = l
	}
	s.page(w, r, ss, "links", data)
}

func (s *Service) webRequests(w http.ResponseWriter, r *http.Request, ss *session) {
	rs, err := s.requests(r.Context(), 0)
	if err != nil {
		s.fail(w, r, ss, err)
		return
	}
	var out []*Request
	for _, q := range rs {
		if s.maysee(ss.user, q) {
			q.Plan = s.plan(r.Context(), ss.user, q)
			out = append(out, q)
		}
	}
	s.page(w, r, ss, "requests", requestsPage{pageHead: pageHead{Error: queryMessage(r)}, Requests: out}) // known keys only (messages.go)
}

func (s *Service) webRequest(w http.ResponseWriter, r *http.Request, ss *session) {
	in := RequestInput{Kind: r.FormValue("kind"), Appliance: r.FormValue("appliance"), Recording: r.FormValue("recording"), Reason: r.FormValue("reason"), Numbers: numbersOf(r.FormValue("numbers"))}
	if _, err := s.request(r.Context(), ss.user, in); err != nil {
		if msg, ok := shown(err); ok {
			s.renderPage(w, r, ss, http.StatusBadRequest, "message", messagePage{pageHead: pageHead{Title: "Request refused"}, Message: msg})
			return
		}
		s.fail(w, r, ss, err)
		return
	}
	http.Redirect(w, r, "/requests", http.StatusSeeOther)
}

func (s *Service) webDecide(w http.ResponseWriter, r *http.Request, ss *session) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	req, err := s.decide(r.Context(), ss.user, id, r.FormValue("approve") == "1")
	if err == nil && req.SetupLink != "" {
		s.page(w, r, ss, "setuplink", setupLinkPage{pageHead: pageHead{Title: "Setup link to hand over"}, Req: req, Link: s.absoluteLink(r, req.SetupLink)}) // shown once: never stored
		return
	}
	if err != nil {
		if _, ok := shown(err); ok && s.decidedAlready(r.Context(), id) {
			http.Redirect(w, r, "/requests?error=decided", http.StatusSeeOther) // a key, never text (messages.go)
			return
		}
		s.fail(w, r, ss, err) // its page says why (never the request's text)
		return
	}
	http.Redirect(w, r, "/requests", http.StatusSeeOther)
}

func (s *Service) webSubject(w http.ResponseWriter, r *http.Request, ss *session) {
	var nums []string
	for _, l := range strings.Split(r.FormValue("numbers"), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			nums = append(nums, l)
		}
	}
	rep, err := s.checkedSubjectReport(r.Context(), ss.user, nums)
	if err != nil {
		if msg, ok := shown(err); ok {
			s.page(w, r, ss, "subject", messagePage{pageHead: pageHead{Error: msg}})
			return
		}
		s.fail(w, r, ss, err)
		return
	}
	s.page(w, r, ss, "art15", s.art15(r, rep))
}

func (s *Service) webFleet(w http.ResponseWriter, r *http.Request, ss *session) {
	v, err := s.fleetView(r.Context(), ss.user, parseFleetFilter(r.URL.Query()))
	if err != nil {
		s.fail(w, r, ss, err)
		return
	}
	s.page(w, r, ss, "fleet", v)
}

func (s *Service) webUsers(w http.ResponseWriter, r *http.Request, ss *session) {
	us, err := ListUsers(r.Context(), s.db())
	if err != nil {
		s.fail(w, r, ss, err)
		return
	}
	s.page(w, r, ss, "users", usersPage{Users: s.usersInScope(ss.user, us)})
}

func (s *Service) webClear(w http.ResponseWriter, r *http.Request, ss *session) {
	if o, _ := s.userObject(r.Context(), r.PathValue("name")); !s.check(w, r, ss, ActClear, o) {
		return
	}
	s.apiClear(discardStatus{w}, r, ss)
	back := "/users"
	if r.FormValue("back") == "/inbox" || !Allowed(ss.user.Role, ActUsers) {
		back = "/inbox" // a DPO may not open the users page
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

package access

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/internal/httperr"
	"github.com/spanvault/spanvault/sync/wire"
)

func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return httperr.BadRequest("malformed request: " + err.Error())
	}
	return nil
}

// fail answers an error: refusals and denials 403 or 404 (audited), the
// rest as errors.go's classify says (JSON for the API, a page for the
// web); unknown errors 500 with a generic message and the cause logged.
func (s *Service) fail(w http.ResponseWriter, r *http.Request, ss *session, err error) {
	if s.refuse(w, r, ss, err) {
		return
	}
	if errors.Is(err, errDenied) {
		s.deny(w, r, ss, err.Error())
		return
	}
	s.writeError(w, r, ss, err)
}

// SignIn is POST /api/v1/session's body.
type SignIn struct {
	Name     string `json:"name"`
	Password string `json:"password"`
	TOTP     string `json:"totp"`
}

// SignInReply carries the bearer token for API clients (browsers use the
// cookie) and the CSRF token cookie sessions need for changes.
type SignInReply struct {
	Token      string `json:"token"`
	CSRF       string `json:"csrf"`
	Role       Role   `json:"role"`
	MustChange bool   `json:"must_change"`
}

func (s *Service) apiSignIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxSignInBody)
	var in SignIn
	if err := decodeBody(r, &in); err != nil {
		s.refuseUnauth(r.Context(), "signin_refused", sourceOf(r), "malformed", "")
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	u, err := s.signInRequest(r, in.Name, in.Password, in.TOTP, forSession)
	if err != nil {
		s.writeError(w, r, nil, signInError(w, err))
		return
	}
	s.openSession(w, r, u, "from "+remoteIP(r), u.MustChange)
}

// openSession ends a successful API sign-in (or password change): a new
// session, its audit entry (detail says how), the cookie and the reply
// with the bearer token.
func (s *Service) openSession(w http.ResponseWriter, r *http.Request, u *User, detail string, mustChange bool) {
	tok, csrf, err := s.newSession(r.Context(), u)
	if err != nil {
		s.writeError(w, r, nil, fmt.Errorf("session: %w", err))
		return
	}
	s.audit(r.Context(), "signin", u.Name, "", detail, false)
	setCookie(w, tok)
	writeJSON(w, http.StatusOK, SignInReply{Token: tok, CSRF: csrf, Role: u.Role, MustChange: mustChange})
}

func setCookie(w http.ResponseWriter, tok string) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: tok, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}

func (s *Service) apiSignOut(w http.ResponseWriter, r *http.Request, ss *session) {
	if _, err := s.db().ExecContext(r.Context(), `DELETE FROM sessions WHERE token = ?`, tokenHash(ss.token)); err != nil {
		s.A.Logger.Error("sign-out: ending the session", "user", ss.user.Name, "err", err)
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", Secure: true, HttpOnly: true, MaxAge: -1})
	s.audit(r.Context(), "signout", ss.user.Name, "", "", false)
	w.WriteHeader(http.StatusNoContent)
}

// mayHear: supervisors and compliance see the sealed metadata of what
// they may hear; the DPO sees it for subject work.
func mayHear(u *User) bool { return Allowed(u.Role, ActPlay) || u.Role == DPO }

func (s *Service) apiRecordings(w http.ResponseWriter, r *http.Request, ss *session) {
	q, err := parseSearchIn(r.URL.Query(), s.readerZone(r))
	if err == nil {
		var hits []Hit
		var total int
		if hits, total, err = s.searchRecordingsTotal(r.Context(), ss.user, q); err == nil {
			writeJSON(w, http.StatusOK, map[string]any{"recordings": hits, "total": total, "more": total > maxCount, "offset": q.Offset}) // more: total counted to maxCount+1 only
			return
		}
	}
	s.fail(w, r, ss, err)
}

// searchRecordingsTotal is the search of the API and of the page alike:
// the branch filter authorized, the hits found with the query's total
// count, their sealed metadata opened for who may hear, the search
// audited. Numbers never travel in a URL to be logged by a proxy: lookups
// go through the query string over TLS only, and the audit entry names
// the blind term.
func (s *Service) searchRecordingsTotal(ctx context.Context, u *User, q Search) ([]Hit, int, error) {
	if len(q.Branches) > 0 {
		if err := s.authorize(ctx, u, ActSearch, s.branchObject(ctx, q.Branches)); err != nil {
			return nil, 0, err
		}
	}
	hits, total, err := s.searchTotal(ctx, u, q)
	if err != nil {
		return nil, 0, err
	}
	if mayHear(u) {
		for i := range hits {
			if hits[i].DeletedAt.IsZero() && hits[i].Kind != wire.KindTombstone { // nothing of an erased call
				hits[i].Personal = s.personal(hits[i].Sealed)
			}
		}
	}
	s.audit(ctx, "search", u.Name, "", fmt.Sprintf("%s: %d results", s.describe(q), total), false)
	return hits, total, nil
}

// RecordingView is one recording with its timeline.
type RecordingView struct {
	Hit
	Timeline []TimelineEvent `json:"timeline"`
	AudioURL string          `json:"audio_url"`
}

func (s *Service) apiRecording(w http.ResponseWriter, r *http.Request, ss *session) {
	v, err := s.view(r, ss)
	if err != nil {
		s.fail(w, r, ss, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Service) view(r *http.Request, ss *session) (*RecordingView, error) {
	app, id := r.PathValue("app"), r.PathValue("id")
	if err := s.authorize(r.Context(), ss.user, ActSearch, s.recordingObject(r.Context(), app, id)); err != nil {
		return nil, err
	}
	rec, err := s.recording(r.Context(), app, id)
	if err != nil {
		return nil, err
	}
	var e struct {
		Direction string  `json:"direction"`
		Duration  float64 `json:"duration_s"`
	}
	if err := storedEntry(rec, &e); err != nil {
		return nil, err
	}
	v := &RecordingView{Hit: Hit{Record: *rec, Direction: e.Direction, Duration: e.Duration}, AudioURL: fmt.Sprintf("/api/v1/recordings/%s/%s/audio", app, id)}
	if mayHear(ss.user) {
		v.Personal = s.personal(rec.Sealed)
		v.Timeline = s.timeline(rec)
	}
	s.audit(r.Context(), "view", ss.user.Name, app, "recording "+id, false)
	s.accessed(r.Context(), ss.user.Name, accView, app, id)
	return v, nil
}

func (s *Service) apiAudio(w http.ResponseWriter, r *http.Request, ss *session) {
	app, id := r.PathValue("app"), r.PathValue("id")
	if !s.check(w, r, ss, ActPlay, s.recordingObject(r.Context(), app, id)) {
		return
	}
	rec, err := s.recording(r.Context(), app, id)
	if err != nil {
		s.fail(w, r, ss, err)
		return
	}
	// Counted (and refused past the limits) before a byte is served.
	if err := s.admit(r.Context(), ss.user.Name, accPlay, app, id, "", rangeStart(r) == 0); err != nil {
		s.fail(w, r, ss, err)
		return
	}
	s.audit(r.Context(), "play", ss.user.Name, app, fmt.Sprintf("recording %s range %q", id, r.Header.Get("Range")), false)
	if err := s.serveAudio(w, r, rec); err != nil {
		s.fail(w, r, ss, unplayable(err))
	}
}

func (s *Service) apiHold(w http.ResponseWriter, r *http.Request, ss *session) {
	app, id := r.PathValue("app"), r.PathValue("id")
	if !s.check(w, r, ss, ActHold, s.recordingObject(r.Context(), app, id)) {
		return
	}
	var in struct {
		Reason string `json:"reason"`
	}
	if err := decodeBody(r, &in); err != nil || strings.TrimSpace(in.Reason) == "" {
		jsonError(w, http.StatusBadRequest, "a hold needs a reason")
		return
	}
	if _, err := s.recording(r.Context(), app, id); err != nil {
		s.fail(w, r, ss, err)
		return
	}
	cid, err := s.A.Command(r.Context(), app, wire.CmdHold, id, false, in.Reason, ss.user.Name)
	if err != nil {
		s.fail(w, r, ss, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"command": cid})
}

// MintLink is POST /api/v1/links's body.
type MintLink struct {
	Appliance string `json:"appliance,omitempty"` // needed when the ID is not unique
	Recording string `json:"recording"`
	TTL       string `json:"ttl"`
	Network   string `json:"network,omitempty"`
}

func (s *Service) apiMintLink(w http.ResponseWriter, r *http.Request, ss *session) {
	var in MintLink
	if err := decodeBody(r, &in); err != nil {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	ttl, err := time.ParseDuration(in.TTL)
	if err != nil {
		jsonError(w, http.StatusBadRequest, fmt.Sprintf("ttl %q is not a duration (10m)", in.TTL))
		return
	}
	// The CRM may know only the recording's ID: its branch within scope.
	var o Object
	if in.Appliance != "" {
		o = s.recordingObject(r.Context(), in.Appliance, in.Recording)
	} else if o, err = s.recordingByID(r.Context(), ss.user, in.Recording); err != nil {
		s.fail(w, r, ss, err)
		return
	}
	if !s.check(w, r, ss, ActLink, o) {
		return
	}
	app := o.Branches[0]
	base, err := s.linkBase()
	if err != nil {
		s.fail(w, r, ss, err)
		return
	}
	l, err := s.mintLink(r.Context(), ss.user, app, in.Recording, ttl, in.Network, base)
	if err != nil {
		s.fail(w, r, ss, err)
		return
	}
	writeJSON(w, http.StatusOK, l)
}

func (s *Service) apiRevokeLink(w http.ResponseWriter, r *http.Request, ss *session) {
	if err := s.revokeLink(r.Context(), ss.user, r.PathValue("id")); err != nil {
		s.fail(w, r, ss, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Service) apiRequest(w http.ResponseWriter, r *http.Request, ss *session) {
	var in RequestInput
	if err := decodeBody(r, &in); err != nil {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	req, err := s.request(r.Context(), ss.user, in)
	if err != nil {
		s.fail(w, r, ss, err)
		return
	}
	writeJSON(w, http.StatusAccepted, req)
}

func (s *Service) apiRequests(w http.ResponseWriter, r *http.Request, ss *session) {
	rs, err := s.requests(r.Context(), 0)
	if err != nil {
		s.fail(w, r, ss, err)
		return
	}
	out := []*Request{}
	for _, q := range rs {
		if s.maysee(ss.user, q) {
			q.Plan = s.plan(r.Context(), ss.user, q)
			out = append(out, q)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"requests": out})
}

func (s *Service) apiDecide(approve bool) handler {
	return func(w http.ResponseWriter, r *http.Request, ss *session) {
		id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
		req, err := s.decide(r.Context(), ss.user, id, approve)
		if err != nil {
			s.fail(w, r, ss, err)
			return
		}
		req.SetupLink = s.absoluteLink(r, req.SetupLink)
		writeJSON(w, http.StatusOK, req)
	}
}

// apiExport gives an approved export to its requester: the call as WAV
// (format=wav, default) or its packets as a capture file (format=pcap).
func (s *Service) apiExport(w http.ResponseWriter, r *http.Request, ss *session) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	req, err := s.exportable(r.Context(), ss.user, id)
	if err != nil {
		s.fail(w, r, ss, err)
		return
	}
	rec, err := s.recording(r.Context(), req.Target.Appliance, req.Target.Recording)
	if err != nil {
		s.fail(w, r, ss, err)
		return
	}
	// Rendered first, so that a call that cannot be rendered does not use
	// the export up; then claimed, once; then admitted against the
	// requester's limits and hours before a byte is served.
	var out *rendered
	if r.URL.Query().Get("format") != "pcap" {
		if out, err = s.render(r.Context(), rec); err != nil {
			s.fail(w, r, ss, unplayable(err))
			return
		}
	}
	if err := s.claimExport(r.Context(), ss.user, req); err != nil {
		s.fail(w, r, ss, err)
		return
	}
	if err := s.admit(r.Context(), ss.user.Name, accExport, rec.Appliance, rec.ID, "", rangeStart(r) == 0); err != nil {
		s.fail(w, r, ss, err)
		return
	}
	s.audit(r.Context(), "export", ss.user.Name, rec.Appliance, fmt.Sprintf("recording %s request %d approved by %s format %s", rec.ID, id, req.DecidedBy, r.URL.Query().Get("format")), false)
	if r.URL.Query().Get("format") == "pcap" {
		w.Header().Set("Content-Type", "application/vnd.tcpdump.pcap")
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", rec.ID+".pcap"))
		if err := s.pcap(r.Context(), rec, w); err != nil {
			s.A.Logger.Error("export", "err", err)
		}
		return
	}
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", rec.ID+".wav"))
	serveWAV(w, r, out)
}

// SubjectQuery is POST /api/v1/subject's body (numbers travel in the body,
// never in a URL).
type SubjectQuery struct {
	Numbers []string `json:"numbers"`
	Format  string   `json:"format,omitempty"` // json (default) or html
}

func (s *Service) apiSubject(w http.ResponseWriter, r *http.Request, ss *session) {
	var in SubjectQuery
	if err := decodeBody(r, &in); err != nil || len(in.Numbers) == 0 {
		jsonError(w, http.StatusBadRequest, "give numbers")
		return
	}
	rep, err := s.subjectReport(r.Context(), ss.user, in.Numbers)
	if err != nil {
		s.fail(w, r, ss, err)
		return
	}
	if in.Format == "html" {
		s.page(w, r, ss, "art15", s.art15(r, rep))
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

func (s *Service) apiUsers(w http.ResponseWriter, r *http.Request, ss *session) {
	us, err := ListUsers(r.Context(), s.db())
	if err != nil {
		s.fail(w, r, ss, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": s.usersInScope(ss.user, us)})
}

// apiClear lifts an insider suspension: a second person, never the user.
func (s *Service) apiClear(w http.ResponseWriter, r *http.Request, ss *session) {
	name := r.PathValue("name")
	if name == ss.user.Name {
		s.deny(w, r, ss, "four eyes: nobody lifts their own suspension")
		return
	}
	o, u := s.userObject(r.Context(), name)
	if !s.check(w, r, ss, ActClear, o) {
		return
	}
	if err := s.unsuspend(r.Context(), name); err != nil {
		s.fail(w, r, ss, err)
		return
	}
	// A fresh window: the insider count starts after this mark; the
	// accesses before it stay as they were.
	s.reviewed(r.Context(), name, ss.user.Name)
	s.audit(r.Context(), "insider_cleared", ss.user.Name, "", fmt.Sprintf("suspension of %s lifted (was: %s)", name, u.Suspended), false)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Service) apiAudit(w http.ResponseWriter, r *http.Request, ss *session) {
	tr, err := s.readTrail(r.Context(), ss.user, r.URL.Query().Get("kind"), r.URL.Query().Get("alerts") == "1", "")
	if err != nil {
		s.fail(w, r, ss, err)
		return
	}
	status := fmt.Sprintf("chain intact over %d entries", tr.Entries)
	if tr.Broken != nil {
		status = tr.Broken.Error()
	}
	writeJSON(w, http.StatusOK, map[string]any{"chain": status, "events": tr.Events})
}

// trailView is the audit trail as its readers see it.
type trailView struct {
	Events  []index.Event
	Entries int   // entries the chain verification covered
	Broken  error // the verification's finding; nil: intact
}

// readTrail is the audit trail read of the API and the page alike: the
// events (of a kind, or alerts only) of the user's branches, the chain verified, the read
// audited (via: how it was read, for the audit entry).
func (s *Service) readTrail(ctx context.Context, u *User, kind string, alertsOnly bool, via string) (trailView, error) {
	es, err := s.A.Index.Events(ctx, kind, alertsOnly)
	if err != nil {
		return trailView{}, err
	}
	n, verr := s.A.VerifyTrail(ctx)
	s.audit(ctx, "audit_read", u.Name, "", via, false)
	return trailView{Events: eventsInScope(u, es), Entries: n, Broken: verr}, nil // trail_scope.go
}

func (s *Service) apiFleet(w http.ResponseWriter, r *http.Request, ss *session) {
	bs, err := s.fleetFor(r.Context(), ss.user)
	if err == nil && r.URL.Query().Get("history") == "1" {
		err = s.fleetHistory(r.Context(), bs)
	}
	if err != nil {
		s.fail(w, r, ss, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"boxes": bs})
}

package access

import (
	"errors"
	"net/http"
	"strings"

	"github.com/spanvault/spanvault/internal/httperr"
)

// Errors at the edge: every handler answers an error through one writer
// (internal/httperr). What the client reads is decided here:
//
//   - an *httperr.Error: its status and message (validation: 400);
//   - authorize's refusals: their status and public text (the reason the
//     trail keeps stays in the trail);
//   - the package's sentinels: errDenied 403, errNotFound and ErrNoUser
//     404, errErased 410, errNoKeys and errNoPublicURL 503, a bad new
//     password 400 (their text is written for the client);
//   - anything else is unknown: 500 with a generic message, the cause in
//     the log, never in the reply.
//
// The API and streaming links answer JSON, the web pages an HTML page.

// classify maps the package's own errors onto httperr; nil: not one.
func classify(err error) *httperr.Error {
	var rf *refusal
	if errors.As(err, &rf) {
		return httperr.New(rf.status, rf.public)
	}
	for _, c := range []struct {
		sentinel error
		code     int
	}{
		{errDenied, http.StatusForbidden},
		{errNotFound, http.StatusNotFound},
		{ErrNoUser, http.StatusNotFound},
		{errErased, http.StatusGone},
		{errNoKeys, http.StatusServiceUnavailable},
		{errNoPublicURL, http.StatusServiceUnavailable},
		{errBadPassword, http.StatusBadRequest},
	} {
		if errors.Is(err, c.sentinel) {
			return httperr.New(c.code, err.Error())
		}
	}
	return nil
}

// wantsPage: everything but the API and streaming links is a page; a
// browser's navigation (Accept: text/html) gets a page everywhere.
func wantsPage(r *http.Request) bool {
	return httperr.WantsHTML(r) || !isAPI(r) && !strings.HasPrefix(r.URL.Path, "/l/")
}

// errs is the service's error writer for a request of session ss (nil:
// not signed in).
func (s *Service) errs(ss *session) httperr.Writer {
	return httperr.Writer{
		Logger:   s.A.Logger,
		Classify: classify,
		HTML:     wantsPage,
		Page: func(w http.ResponseWriter, r *http.Request, e *httperr.Error) {
			s.failurePage(w, r, ss, e) // errors_web.go
		},
	}
}

// writeError answers err (see classify) without auditing: refusals go
// through refuse or fail, which audit them.
func (s *Service) writeError(w http.ResponseWriter, r *http.Request, ss *session, err error) {
	s.errs(ss).Write(w, r, err)
}

// signInError is a sign-in failure as the client reads it (status and
// Retry-After by signInStatus); an unknown one stays unknown (500).
func signInError(w http.ResponseWriter, err error) error {
	if st := signInStatus(w, err); st != http.StatusInternalServerError {
		return httperr.New(st, err.Error())
	}
	return err
}

// shown is the text a page shows in place of its result for an error
// the client may read that is not a refusal (refusals and denials go
// through fail, which audits them); false: answer it with fail.
func shown(err error) (string, bool) {
	var rf *refusal
	if errors.As(err, &rf) || errors.Is(err, errDenied) {
		return "", false
	}
	if e := classify(err); e != nil {
		return e.Msg, true
	}
	var e *httperr.Error
	if errors.As(err, &e) && e.Code < 500 {
		return e.Msg, true
	}
	return "", false
}

// unplayable is a recording that could not be opened or rendered as the
// client reads it: what errors.go knows keeps its answer; anything else
// is 422 with a generic message (the cause, a store or format fault, is
// logged).
func unplayable(err error) error {
	var e *httperr.Error
	if classify(err) != nil || errors.As(err, &e) {
		return err
	}
	return httperr.Wrap(http.StatusUnprocessableEntity, "the recording cannot be played", err)
}

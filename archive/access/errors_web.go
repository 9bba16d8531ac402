package access

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/spanvault/spanvault/internal/httperr"
)

// Failure pages that help: each says what happened (the error's own
// text), what to do (a hint per kind of failure) and offers a way back.

// failureTitle and failureHint are what a failure page says for a
// status: its heading and what the reader can do.
func failureTitle(r *http.Request, code int) string {
	if strings.HasPrefix(r.URL.Path, "/l/") {
		return "This link cannot be played"
	}
	switch code {
	case http.StatusBadRequest:
		return "Please check your input"
	case http.StatusUnauthorized:
		return "Please sign in"
	case http.StatusForbidden:
		return "Not allowed"
	case http.StatusNotFound:
		return "Not found"
	case http.StatusGone:
		return "Erased"
	case http.StatusUnprocessableEntity:
		return "The recording cannot be played"
	case http.StatusTooManyRequests:
		return "Too many attempts"
	case http.StatusServiceUnavailable:
		return "Not available"
	}
	if code >= 500 {
		return "Something went wrong"
	}
	return http.StatusText(code)
}

func failureHint(r *http.Request, code int, msg string) string {
	if strings.HasPrefix(r.URL.Path, "/l/") {
		return "Streaming links work for a limited time, from the network they were made for, until revoked. Open the call again in your CRM to get a new link, or ask whoever sent it."
	}
	switch code {
	case http.StatusBadRequest:
		return "Correct what the message names and try again."
	case http.StatusUnauthorized:
		return "Your session has ended. Sign in again; you will come back to this page."
	case http.StatusForbidden:
		if strings.HasPrefix(msg, "suspended pending review") {
			return "Your access to recordings is suspended until it is reviewed. A data protection officer or an administrator reviews it and can lift it; ask them if your work cannot wait."
		}
		return "Your role or branches do not allow this. If your work needs it, ask an administrator; refusals are kept in the audit trail."
	case http.StatusNotFound:
		return "It may be outside your branches, erased, or the address may be mistyped. Search for it again."
	case http.StatusGone:
		return "The recording was erased. When, why and by whom is in the audit trail; the subject access report lists it."
	case http.StatusUnprocessableEntity:
		return "The archive holds the recording but cannot decode it. Tell your administrator, with the time shown here."
	case http.StatusTooManyRequests:
		return "Wait a minute, then try again."
	case http.StatusServiceUnavailable:
		return "The archive is not set up for this yet. Tell your administrator."
	}
	if code >= 500 {
		return "Try again in a moment. If it happens again, tell your administrator the time shown here."
	}
	return ""
}

// backOf is the page the reader came from when it is one of this site's
// (the Referer on this host), for a failure page's way back.
func backOf(r *http.Request) string {
	ref, err := url.Parse(r.Referer())
	if err != nil || ref.Host != r.Host || ref.Path == r.URL.Path {
		return ""
	}
	return localPath(ref.RequestURI())
}

// failurePage answers e as a page in the reader's language.
func (s *Service) failurePage(w http.ResponseWriter, r *http.Request, ss *session, e *httperr.Error) {
	lang := readerLanguage(r)
	s.renderPage(w, r, ss, e.Code, "message", messagePage{
		pageHead: pageHead{Title: failureTitle(r, e.Code)},
		Message:  translate(lang, e.Msg),
		Hint:     translate(lang, failureHint(r, e.Code, e.Msg)),
		Back:     backOf(r),
	})
}

package access

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spanvault/spanvault/capture/sip"
)

// The workspace's shell: the language switch, times in the reader's
// zone, and the way back to the page a sign-in interrupted.

// formatAt is a time in loc with its zone ("2026-12-06 14:03:05 CET");
// the zero time is empty.
func formatAt(loc *time.Location, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc).Format("2006-01-02 15:04:05 MST")
}

// formatDay is the day of t in loc ("2026-12-06").
func formatDay(loc *time.Location, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc).Format("2006-01-02")
}

// localPath is next when it is a path on this site ("/search?x=1"),
// otherwise "": never another host ("//evil", "https://evil",
// "/\evil"), so that a link cannot send a user elsewhere after sign-in.
func localPath(next string) string {
	if next == "" || len(next) > 2048 || next[0] != '/' || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n\t") {
		return ""
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") {
		return ""
	}
	if u.Path == "/signout" || u.Path == "/lang" {
		return ""
	}
	return next
}

// signinURL is the sign-in page, remembering the page asked for when it
// is one a browser navigates to (GET). The filters that name a person
// (a number, an extension, a tag) are left out: a redirect to someone not
// signed in carries no personal data.
func signinURL(r *http.Request) string {
	if r.Method != http.MethodGet {
		return "/signin"
	}
	u := *r.URL
	q := u.Query()
	for _, k := range personalParams {
		q.Del(k)
	}
	u.RawQuery = q.Encode()
	if next := localPath(u.RequestURI()); next != "" && next != "/" {
		return "/signin?next=" + url.QueryEscape(next)
	}
	return "/signin"
}

// personalParams are the query parameters that carry personal data.
var personalParams = []string{"number", "numbers", "ext", "tag"}

// webLang switches the language: the "lang" cookie (a year), then back
// to the page the reader was on.
func (s *Service) webLang(w http.ResponseWriter, r *http.Request) {
	to := "en"
	if r.URL.Query().Get("to") == "de" {
		to = "de"
	}
	http.SetCookie(w, &http.Cookie{Name: "lang", Value: to, Path: "/", Secure: true, SameSite: http.SameSiteStrictMode, MaxAge: 365 * 24 * 3600})
	next := localPath(r.URL.Query().Get("next"))
	if next == "" {
		next = "/"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// party is a SIP address as a person reads it: its user part (the
// number or extension), the address itself when it has none.
func party(uri string) string {
	if u := string(sip.User([]byte(uri))); u != "" {
		return u
	}
	return uri
}

package access

import (
	"bytes"
	"net/http"
)

// Page data: one type per page. Every page is rendered into a buffer
// first, so that a template error is a 500, never half a page.

// pageHead is what the layout reads of a page besides its data: a title
// other than the page's own, and an error shown above it.
type pageHead struct {
	Title string
	Error string
}

func (h pageHead) head() pageHead { return h }

type headed interface{ head() pageHead }

// messagePage: a sentence (a refusal, an error), what to do about it
// (Hint, errors_web.go) and the way back (Back: a local path, or "").
type messagePage struct {
	pageHead
	Message string
	Hint    string
	Back    string
}

// searchPage: the filters as typed (by query key) and the hits.
type searchPage struct {
	pageHead
	Q    map[string]string
	Hits []Hit
	// Total hits of the query; First and Last number the ones shown;
	// Prev and Next link to the neighbouring pages ("" at the ends).
	Total, First, Last int
	Prev, Next         string
	// Branches and Classes the reader may pick; Zone the dates are read
	// in; FromDay and ToDay the days searched, both included.
	Branches, Classes []string
	Zone              string
	FromDay, ToDay    string
}

type linksPage struct {
	pageHead
	Link *Link
}

type requestsPage struct {
	pageHead
	Requests []*Request
}

type usersPage struct {
	pageHead
	Users []*User
}

type linkAdminPage struct {
	pageHead
	Links []LinkInfo
}

type dtmfPage struct {
	pageHead
	Appliance, ID string
	Keys          []RevealedKey
}

// signinPage: the page to return to after signing in (a local path).
type signinPage struct {
	pageHead
	Next string
}

// renderPage answers the page name with data and status (0: 200): into
// a buffer, then onto w; a template that fails is a 500 and a log line.
func (s *Service) renderPage(w http.ResponseWriter, r *http.Request, ss *session, status int, name string, data any) {
	pd := pageData{Title: titles[name], Data: data}
	if h, ok := data.(headed); ok {
		if t := h.head().Title; t != "" {
			pd.Title = t
		}
		pd.Error = h.head().Error
	}
	if ss != nil {
		pd.User, pd.CSRF = ss.user, ss.csrf
	}
	lang := readerLanguage(r)
	pd.Lang = lang.String()
	pd.Loc = s.readerZone(r)
	if r != nil && r.Method == http.MethodGet && status < 300 {
		// Not on an error page: a refusal reads the same whatever was asked.
		pd.Path = localPath(r.URL.RequestURI())
	}
	pd.Title, pd.Error = translate(lang, pd.Title), translate(lang, pd.Error)
	var b bytes.Buffer
	if err := pageSets[lang].ExecuteTemplate(&b, name, pd); err != nil {
		s.A.Logger.Error("page", "name", name, "err", err)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte("internal server error\n"))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if status != 0 {
		w.WriteHeader(status)
	}
	w.Write(b.Bytes())
}

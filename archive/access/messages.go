package access

import (
	"context"
	"net/http"
)

// A page reached by a redirect after a form may say what went wrong, but
// only in the archive's own words: its ?error= names a key of
// pageMessages, never text. A link someone sends (/inbox?error=Call
// this number...) shows nothing of theirs on the archive's pages.
var pageMessages = map[string]string{
	"decided": "This request was decided already (by you or another person).",
}

// queryMessage is the message the request's ?error= key names, "" for
// none or an unknown key.
func queryMessage(r *http.Request) string {
	return pageMessages[r.URL.Query().Get("error")]
}

// decidedAlready reports whether request id is no longer waiting for a
// decision (a decision that failed for that reason redirects with the
// key "decided").
func (s *Service) decidedAlready(ctx context.Context, id int64) bool {
	rs, err := s.requests(ctx, id)
	return err == nil && len(rs) == 1 && rs[0].State != StatePending
}

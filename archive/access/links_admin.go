package access

import (
	"context"
	"net/http"
	"time"
)

// LinkInfo is a live streaming link as GET /api/v1/links lists it (never
// its URL: the list does not hand out working links).
type LinkInfo struct {
	ID        string    `json:"id"`
	Appliance string    `json:"branch"`
	Recording string    `json:"recording"`
	By        string    `json:"by"`
	Created   time.Time `json:"created"`
	Expires   time.Time `json:"expires"`
	Network   string    `json:"network,omitempty"`
	// Dead says why a link that has not expired or been revoked no longer
	// streams (its minter was suspended, lost the role or the branch).
	Dead string `json:"dead,omitempty"`
}

// insiderRoutes: link listing and revocation for the DPO and admins,
// the DTMF reveal.
func (s *Service) insiderRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /api/v1/links", s.need("", s.apiLinks))
	m.HandleFunc("POST /api/v1/recordings/{app}/{id}/dtmf", s.need(ActDTMF, s.apiRevealDTMF))
	m.HandleFunc("GET /links/manage", s.web("", s.webLinks))
	m.HandleFunc("POST /web/links/{id}/revoke", s.web("", s.webRevokeLink))
	m.HandleFunc("POST /web/dtmf/{app}/{id}", s.web(ActDTMF, s.webRevealDTMF))
}

// liveLinks lists the links u may revoke that are neither revoked nor
// expired: every one within u's branches for ActRevoke, u's own for crm.
func (s *Service) liveLinks(ctx context.Context, u *User) ([]LinkInfo, bool) {
	all := Allowed(u.Role, ActRevoke)
	if !all && !Allowed(u.Role, ActLink) {
		return nil, false
	}
	rows, err := s.db().QueryContext(ctx, `SELECT id, appliance, recording, by, created_at, expires_at, network FROM links WHERE revoked_at = '' AND expires_at > ? ORDER BY created_at`, ts(s.now()))
	if err != nil {
		return nil, true
	}
	var out []LinkInfo
	for rows.Next() {
		var l LinkInfo
		var c, e string
		if rows.Scan(&l.ID, &l.Appliance, &l.Recording, &l.By, &c, &e, &l.Network) != nil {
			continue
		}
		l.Created, l.Expires = parseTS(c), parseTS(e)
		if u.InScope(l.Appliance) && (all || l.By == u.Name) {
			out = append(out, l)
		}
	}
	rows.Close()
	for i := range out {
		m, err := getUser(ctx, s.db(), out[i].By)
		switch {
		case err != nil:
			out[i].Dead = "minter no longer exists"
		case m.Suspended != "":
			out[i].Dead = "minter suspended"
		case !Allowed(m.Role, ActLink) || !m.InScope(out[i].Appliance):
			out[i].Dead = "minter lost the role or the branch"
		}
	}
	return out, true
}

func (s *Service) apiLinks(w http.ResponseWriter, r *http.Request, ss *session) {
	ls, ok := s.liveLinks(r.Context(), ss.user)
	if !ok {
		s.deny(w, r, ss, "role "+string(ss.user.Role)+" may not list links")
		return
	}
	if ls == nil {
		ls = []LinkInfo{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"links": ls})
}

func (s *Service) webLinks(w http.ResponseWriter, r *http.Request, ss *session) {
	ls, ok := s.liveLinks(r.Context(), ss.user)
	if !ok {
		s.deny(w, r, ss, "role "+string(ss.user.Role)+" may not list links")
		return
	}
	s.page(w, r, ss, "linkadmin", linkAdminPage{pageHead: pageHead{Title: "Live streaming links", Error: queryMessage(r)}, Links: ls})
}

func (s *Service) webRevokeLink(w http.ResponseWriter, r *http.Request, ss *session) {
	if err := s.revokeLink(r.Context(), ss.user, r.PathValue("id")); err != nil {
		s.fail(w, r, ss, err)
		return
	}
	http.Redirect(w, r, "/links/manage", http.StatusSeeOther)
}

package access

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/spanvault/spanvault/internal/httperr"
)

// Streaming links: a URL /l/ID.SIG where ID names a row (recording,
// expiry, source network, revocation) and SIG is an HMAC of the row's
// facts under a key only the access service holds, so that a link
// cannot be forged or pointed at another recording, and the database
// alone cannot mint one. A link gives the audio, never the metadata.

// Link is a minted streaming link.
type Link struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Appliance string    `json:"-"`
	Recording string    `json:"-"`
	Expires   time.Time `json:"expires"`
	Network   string    `json:"network,omitempty"`
}

func linkMsg(id, app, rec string, exp time.Time, network string) string {
	return strings.Join([]string{id, app, rec, ts(exp), network}, "\x00")
}

// mintLink makes a link for one recording.
func (s *Service) mintLink(ctx context.Context, u *User, app, rec string, ttl time.Duration, network, base string) (*Link, error) {
	if s.Keys == nil {
		return nil, errNoKeys
	}
	if base == "" {
		return nil, errNoPublicURL
	}
	if ttl <= 0 || ttl > time.Duration(s.cfg.MaxLinkTTL) {
		return nil, httperr.BadRequestf("ttl %s: between 1s and %s", ttl, time.Duration(s.cfg.MaxLinkTTL))
	}
	if network != "" {
		if _, err := netip.ParsePrefix(network); err != nil {
			return nil, httperr.BadRequestf("network %q: not an address prefix (10.1.0.0/16)", network)
		}
	}
	if !u.InScope(app) {
		return nil, fmt.Errorf("%w: branch %s is outside your scope", errDenied, app)
	}
	if _, err := s.recording(ctx, app, rec); err != nil {
		return nil, err
	}
	id := newSecret(12)
	exp := s.now().Add(ttl).UTC().Truncate(time.Second)
	if _, err := s.db().ExecContext(ctx, `INSERT INTO links (id, appliance, recording, by, created_at, expires_at, network) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		id, app, rec, u.Name, ts(s.now()), ts(exp), network); err != nil {
		return nil, err
	}
	sig := s.Keys.Sign(linkMsg(id, app, rec, exp, network))
	s.audit(ctx, "link_minted", u.Name, app, fmt.Sprintf("recording %s link %s expires %s network %q", rec, id, exp.Format(time.RFC3339), network), false)
	s.accessed(ctx, u.Name, "link", app, rec)
	return &Link{ID: id, URL: base + "/l/" + id + "." + sig, Appliance: app, Recording: rec, Expires: exp, Network: network}, nil
}

// revokeLink ends a link now: a role that may neither revoke nor mint
// links is refused (403) whatever the link; then a link that does not
// exist or lies outside u's branches is 404 alike; a crm user revokes
// only its own links (403 for another's), a DPO or admin any in its
// branches.
func (s *Service) revokeLink(ctx context.Context, u *User, id string) error {
	if !Allowed(u.Role, ActRevoke) && !Allowed(u.Role, ActLink) {
		return forbidden(fmt.Sprintf("role %s may not revoke links", u.Role))
	}
	var app, by string
	err := s.db().QueryRowContext(ctx, `SELECT appliance, by FROM links WHERE id = ?`, id).Scan(&app, &by)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if aerr := s.authorize(ctx, u, "", Object{Kind: "link", Name: id, Branches: []string{app}, Missing: err != nil}); aerr != nil {
		return aerr
	}
	if !Allowed(u.Role, ActRevoke) && by != u.Name {
		return forbidden(fmt.Sprintf("role %s may revoke only its own links", u.Role))
	}
	if _, err := s.db().ExecContext(ctx, `UPDATE links SET revoked_at = ? WHERE id = ? AND revoked_at = ''`, ts(s.now()), id); err != nil {
		return err
	}
	s.audit(ctx, "link_revoked", u.Name, app, "link "+id+" minted by "+by, false)
	return nil
}

// streamLink serves a link's audio: no session, no metadata, audited at
// every use, 403 once expired or revoked, from another network, or when
// the signature does not match the row.
func (s *Service) streamLink(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tok := r.PathValue("token")
	id, sig, ok := strings.Cut(tok, ".")
	deny := func(why string) {
		s.refuseUnauth(ctx, "link_refused", sourceOf(r), why, linkRef(id))
		s.writeError(w, r, nil, httperr.New(http.StatusForbidden, "this link is not valid")) // a page for a browser
	}
	if !ok || s.Keys == nil {
		deny("malformed")
		return
	}
	var app, rec, exp, network, revoked, by string
	err := s.db().QueryRowContext(ctx, `SELECT appliance, recording, expires_at, network, revoked_at, by FROM links WHERE id = ?`, id).Scan(&app, &rec, &exp, &network, &revoked, &by)
	if err != nil {
		deny("unknown link")
		return
	}
	expires := parseTS(exp)
	switch {
	case !s.Keys.Verify(linkMsg(id, app, rec, expires, network), sig):
		deny("signature does not match")
		return
	case revoked != "":
		deny("revoked")
		return
	case !s.now().Before(expires):
		deny("expired")
		return
	}
	if network != "" {
		p, _ := netip.ParsePrefix(network)
		ip, err := netip.ParseAddr(remoteIP(r))
		if err != nil || !p.Contains(ip.Unmap()) {
			deny("from outside the link's network")
			return
		}
	}
	recd, err := s.recording(ctx, app, rec)
	if err != nil {
		deny(err.Error())
		return
	}
	// The stream counts against its minter (limits, working hours), who
	// must still be unsuspended, crm, and scoped to the branch.
	if err := s.admit(ctx, by, accStream, app, rec, id, rangeStart(r) == 0); err != nil {
		deny(err.Error())
		return
	}
	s.audit(ctx, "link_used", "crm:"+by, app, fmt.Sprintf("link %s recording %s from %s range %q", id, rec, remoteIP(r), r.Header.Get("Range")), false)
	if err := s.serveAudio(w, r, recd); err != nil {
		s.audit(ctx, "link_failed", "", app, fmt.Sprintf("link %s recording %s: %v", id, rec, err), false)
		jsonError(w, http.StatusUnprocessableEntity, "the recording cannot be played")
	}
}

func remoteIP(r *http.Request) string {
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return h
}

// serveWAV answers with the audio only: Range honoured (206), nothing of
// the call in the headers.
func serveWAV(w http.ResponseWriter, r *http.Request, out *rendered) {
	w.Header().Set("Content-Type", "audio/wav")
	w.Header().Set("Cache-Control", "no-store")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(out.wav))
}

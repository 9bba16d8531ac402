package access

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"image/png"
	"net/http"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/spanvault/spanvault/internal/httperr"
)

// Setup links. Approving a new account or a reset gives the approver a
// link, never the account's secrets: the account's password and second
// factor are random and shown to nobody until the user opens the link
// (over HTTPS, no session), enrols a second factor made for them there
// and sets their own password. The link is single-use, expires after
// SetupLinkTTL, is replaced by a newer one for the same user, and dies
// after maxSetupFailures wrong codes; the index keeps its SHA-256 only.
// Whoever carries the link could use it, but then the user finds it
// spent, and the setup is in the trail with its source.

// SetupLinkTTL is how long a setup link stays valid.
const SetupLinkTTL = 72 * time.Hour

// maxSetupFailures: wrong codes a setup link takes before it dies.
const maxSetupFailures = 5

// setupPurpose: what a link sets up (for the trail and the page).
const (
	setupNew   = "new account"
	setupReset = "reset"
)

var errSetupLink = httperr.NotFound("this setup link is not valid: it was used, has expired, was replaced by a newer one or was never issued; ask an administrator for a new one")

func (s *Service) setupRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /setup/{token}", s.webSetupForm)
	m.HandleFunc("POST /setup/{token}", s.webSetup)
}

// issueSetup makes a setup link for name (replacing any earlier one)
// and answers its address.
func (s *Service) issueSetup(ctx context.Context, name, purpose, by string) (string, error) {
	if _, err := s.setupBase(); err != nil {
		return "", err
	}
	tok := newSecret(32)
	now := s.now()
	if _, err := s.db().ExecContext(ctx, `DELETE FROM setup_links WHERE name = ?`, name); err != nil {
		return "", fmt.Errorf("access: setup link for %s: %w", name, err)
	}
	if _, err := s.db().ExecContext(ctx, `INSERT INTO setup_links (hash, name, purpose, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
		tokenHash(tok), name, purpose, by, ts(now), ts(now.Add(SetupLinkTTL))); err != nil {
		return "", fmt.Errorf("access: setup link for %s: %w", name, err)
	}
	s.audit(ctx, "setup_link_issued", by, "", fmt.Sprintf("setup link (%s) for %s, valid until %s", purpose, name, now.Add(SetupLinkTTL).UTC().Format(time.RFC3339)), false)
	return "/setup/" + tok, nil
}

// absoluteLink makes a path the service issued an address the user can
// open: under access.public_url, never this request's Host (without it
// no setup link is issued: setup_base.go).
func (s *Service) absoluteLink(_ *http.Request, path string) string {
	if !strings.HasPrefix(path, "/") {
		return path
	}
	if base, err := s.setupBase(); err == nil {
		return base + path
	}
	return path
}

// setupLink is a valid link's row.
type setupLink struct {
	hash, name, purpose, totp string
}

// openSetup finds the valid (unused, unexpired, not dead) link of tok.
func (s *Service) openSetup(ctx context.Context, tok string) (*setupLink, error) {
	if len(tok) > 64 {
		return nil, errSetupLink
	}
	l := &setupLink{hash: tokenHash(tok)}
	var expires, used string
	var failures int
	err := s.db().QueryRowContext(ctx, `SELECT name, purpose, totp, expires_at, used_at, failures FROM setup_links WHERE hash = ?`, l.hash).
		Scan(&l.name, &l.purpose, &l.totp, &expires, &used, &failures)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errSetupLink
	}
	if err != nil {
		return nil, fmt.Errorf("access: setup link: %w", err)
	}
	if used != "" || failures >= maxSetupFailures || !s.now().Before(parseTS(expires)) {
		return nil, errSetupLink
	}
	return l, nil
}

// setupPage: the form of a valid link, with the second factor to enrol.
type setupPage struct {
	pageHead
	Name    string
	Purpose string
	Secret  string
	URL     string
	QR      template.URL
}

func setupHeaders(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
}

func (s *Service) setupFail(w http.ResponseWriter, r *http.Request, err error) {
	s.writeError(w, r, nil, err) // a page for a browser, with a way back
}

// webSetupForm answers GET /setup/{token}: a fresh second factor for
// the user to enrol (kept sealed with the link until the form is sent)
// and the form for their own password.
func (s *Service) webSetupForm(w http.ResponseWriter, r *http.Request) {
	setupHeaders(w)
	ctx := r.Context()
	l, err := s.openSetup(ctx, r.PathValue("token"))
	if err != nil {
		s.setupFail(w, r, err)
		return
	}
	s.setupForm(w, r, l, 0, "", "")
}

// setupForm shows the form with the second factor secret (base32), or a
// new one stored with the link when secret is empty (every GET: the
// page reloaded shows a factor nobody else saw).
func (s *Service) setupForm(w http.ResponseWriter, r *http.Request, l *setupLink, status int, msg, secret string) {
	ctx := r.Context()
	opts := totp.GenerateOpts{Issuer: "spanvault archive", AccountName: l.name, Algorithm: otp.AlgorithmSHA1, Digits: otp.DigitsSix, Period: 30}
	if secret != "" {
		b, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
		if err != nil {
			s.writeError(w, r, nil, fmt.Errorf("access: setup link's second factor for %s: %w", l.name, err))
			return
		}
		opts.Secret = b
	}
	key, err := totp.Generate(opts)
	if err != nil {
		s.writeError(w, r, nil, fmt.Errorf("access: %w", err))
		return
	}
	if secret == "" {
		stored := key.Secret()
		if s.Keys != nil {
			if stored, err = sealTOTP(s.Keys, l.name, stored); err != nil {
				s.writeError(w, r, nil, fmt.Errorf("access: %w", err))
				return
			}
		}
		if _, err := s.db().ExecContext(ctx, `UPDATE setup_links SET totp = ? WHERE hash = ? AND used_at = ''`, stored, l.hash); err != nil {
			s.writeError(w, r, nil, fmt.Errorf("access: setup link: %w", err))
			return
		}
	}
	p := setupPage{pageHead: pageHead{Title: "Set up your account", Error: msg}, Name: l.name, Purpose: l.purpose, Secret: key.Secret(), URL: key.URL()}
	if img, err := key.Image(240, 240); err == nil {
		var b bytes.Buffer
		if png.Encode(&b, img) == nil {
			p.QR = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(b.Bytes()))
		}
	}
	s.renderPage(w, r, nil, status, "setup", p)
}

// webSetup answers POST /setup/{token}: the code from the enrolled
// second factor and the new password (twice). The account takes both,
// the link is spent, every session of the account ends and the user is
// signed in.
func (s *Service) webSetup(w http.ResponseWriter, r *http.Request) {
	setupHeaders(w)
	r.Body = http.MaxBytesReader(w, r.Body, maxSignInBody)
	ctx := r.Context()
	l, err := s.openSetup(ctx, r.PathValue("token"))
	if err != nil {
		s.setupFail(w, r, err)
		return
	}
	secret := l.totp
	if sealed, ok := strings.CutPrefix(secret, sealedPrefix); ok {
		b, err := base64.RawStdEncoding.DecodeString(sealed)
		if err == nil && s.Keys != nil {
			var p []byte
			p, err = s.Keys.Unseal("totp", b, []byte(l.name))
			secret = string(p)
		}
		if err != nil || s.Keys == nil {
			s.writeError(w, r, nil, fmt.Errorf("access: setup link's second factor for %s: unreadable", l.name))
			return
		}
	}
	if secret == "" { // the form was sent without the page's GET
		s.setupForm(w, r, l, http.StatusBadRequest, "open the link again: the page shows the second factor to enrol", "")
		return
	}
	pw := r.FormValue("password")
	if err := checkNewPassword(pw); err != nil {
		s.setupForm(w, r, l, http.StatusBadRequest, err.Error(), secret)
		return
	}
	if pw != r.FormValue("password2") {
		s.setupForm(w, r, l, http.StatusBadRequest, "the two passwords differ", secret)
		return
	}
	step := totpMatch(secret, r.FormValue("totp"), s.now())
	if step < 0 {
		if _, err := s.db().ExecContext(ctx, `UPDATE setup_links SET failures = failures + 1 WHERE hash = ?`, l.hash); err != nil {
			s.writeError(w, r, nil, fmt.Errorf("access: setup link: %w", err))
			return
		}
		s.audit(ctx, "account_setup_refused", l.name, "", "wrong code from the second factor being enrolled, from "+sourceOf(r), false)
		if _, err := s.openSetup(ctx, r.PathValue("token")); err != nil {
			s.setupFail(w, r, err)
			return
		}
		s.setupForm(w, r, l, http.StatusUnauthorized, "the code does not match the second factor shown: check that your app shows this account and try again", secret)
		return
	}
	h, err := s.hashNew(ctx, pw)
	if err != nil {
		s.writeError(w, r, nil, err)
		return
	}
	// Spend the link first: of two forms sent at once, one sets up.
	res, err := s.db().ExecContext(ctx, `UPDATE setup_links SET used_at = ?, totp = '' WHERE hash = ? AND used_at = ''`, ts(s.now()), l.hash)
	if n, _ := rowsAffected(res, err); n != 1 {
		s.setupFail(w, r, errSetupLink)
		return
	}
	if err := updateUser(ctx, s.db(), `UPDATE users SET password = ?, password_set_at = ?, totp = ?, totp_step = ?, failed = 0, locked_until = '' WHERE name = ?`,
		h, ts(s.now()), l.totp, step, l.name); err != nil {
		s.writeError(w, r, nil, err)
		return
	}
	if _, err := s.db().ExecContext(ctx, `DELETE FROM sessions WHERE name = ?`, l.name); err != nil {
		s.writeError(w, r, nil, fmt.Errorf("access: ending %s's sessions: %w", l.name, err))
		return
	}
	s.guard.forget(l.name)
	s.audit(ctx, "account_setup", l.name, "", fmt.Sprintf("%s: own password set and own second factor enrolled through the setup link, from %s", l.purpose, sourceOf(r)), false)
	u, err := getUser(ctx, s.db(), l.name)
	if err != nil {
		s.writeError(w, r, nil, err)
		return
	}
	tok, _, err := s.newSession(ctx, u)
	if err != nil {
		s.writeError(w, r, nil, fmt.Errorf("session: %w", err))
		return
	}
	setCookie(w, tok)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// setupLinkPage: what the approver of an addition or reset sees once.
type setupLinkPage struct {
	pageHead
	Req  *Request
	Link string
}

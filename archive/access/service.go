package access

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/archive/keyring"
	"github.com/spanvault/spanvault/internal/httperr"
)

// Service is the access service of one archive.
type Service struct {
	A *archive.Archive
	// Keys open sealed metadata and recordings; nil: the service lists
	// only what is in clear (no numbers, no playback).
	Keys     *keyring.Keyring
	cfg      archive.AccessConfig
	cache    *audioCache
	plans    plans
	notify   *notifier
	backfill sync.Once
	anchorMu sync.Mutex
	insider  insiderState
	guard    *guard  // sign-in limits (signin.go)
	pick     pickers // the search page's branch and class pickers (search_page.go)
	// trends: the fleet page's finished buckets (fleet_trends.go).
	trends trendCache
}

// New makes the access service of an open archive. keys may be nil.
func New(a *archive.Archive, keys *keyring.Keyring) *Service {
	s := &Service{A: a, Keys: keys, cfg: a.Config.Access, guard: newGuard()}
	s.cache = newAudioCache(int64(s.cfg.PlaybackCacheMiB) << 20)
	s.notify = newNotifier(s.cfg, a.Logger)
	prev := a.OnAlert
	a.OnAlert = func(e index.Event) {
		if prev != nil {
			prev(e)
		}
		s.notify.send(e)
	}
	return s
}

func (s *Service) db() *index.DB  { return s.A.Index.DB() }
func (s *Service) now() time.Time { return s.A.Now() }
func ts(t time.Time) string       { return t.UTC().Format(time.RFC3339Nano) }
func parseTS(v string) time.Time  { t, _ := time.Parse(time.RFC3339Nano, v); return t }
func tokenHash(tok string) string { h := sha256.Sum256([]byte(tok)); return hex.EncodeToString(h[:]) }

// audit appends to the archive's hash-chained trail (and its log). Detail
// never carries a number, a Call-ID or a secret.
func (s *Service) audit(ctx context.Context, kind, actor, appliance, detail string, alert bool) {
	s.A.Event(ctx, kind, actor, appliance, detail, alert)
}

// Session cookie: __Host- prefix (Secure, Path=/, no Domain), HttpOnly,
// SameSite=Strict.
const cookieName = "__Host-spanvault"

type session struct {
	user   *User
	token  string
	csrf   string
	bearer bool
}

func (s *Service) newSession(ctx context.Context, u *User) (token, csrf string, err error) {
	token, csrf = newSecret(32), newSecret(24)
	now := ts(s.now())
	_, err = s.db().ExecContext(ctx, `INSERT INTO sessions (token, name, csrf, created_at, seen_at) VALUES (?, ?, ?, ?, ?)`, tokenHash(token), u.Name, csrf, now, now)
	return token, csrf, err
}

var (
	errNoSession      = errors.New("sign in first")
	errSessionExpired = errors.New("session expired: sign in again")
)

// session finds the request's session (cookie or bearer token), ends it
// when idle or too old, and marks it used.
func (s *Service) session(r *http.Request) (*session, error) {
	tok, bearer := "", false
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		tok, bearer = strings.TrimPrefix(h, "Bearer "), true
	} else if c, err := r.Cookie(cookieName); err == nil {
		tok = c.Value
	}
	if tok == "" {
		return nil, errNoSession
	}
	ctx := r.Context()
	var name, csrf, created, seen string
	err := s.db().QueryRowContext(ctx, `SELECT name, csrf, created_at, seen_at FROM sessions WHERE token = ?`, tokenHash(tok)).Scan(&name, &csrf, &created, &seen)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNoSession
	}
	if err != nil {
		return nil, err
	}
	now := s.now()
	if now.Sub(parseTS(seen)) > time.Duration(s.cfg.IdleTimeout) || now.Sub(parseTS(created)) > time.Duration(s.cfg.SessionLifetime) {
		if _, err := s.db().ExecContext(ctx, `DELETE FROM sessions WHERE token = ?`, tokenHash(tok)); err != nil {
			s.A.Logger.Error("ending an expired session", "user", name, "err", err)
		}
		s.audit(ctx, "session_expired", name, "", "idle or too old", false)
		return nil, errSessionExpired
	}
	u, err := getUser(ctx, s.db(), name)
	if err != nil {
		return nil, errNoSession
	}
	if u.Disabled != "" {
		if _, err := s.db().ExecContext(ctx, `DELETE FROM sessions WHERE name = ?`, name); err != nil {
			s.A.Logger.Error("ending a session", "user", name, "err", err)
		}
		return nil, errNoSession
	}
	if _, err := s.db().ExecContext(ctx, `UPDATE sessions SET seen_at = ? WHERE token = ?`, ts(now), tokenHash(tok)); err != nil {
		return nil, fmt.Errorf("access: session: %w", err)
	}
	return &session{user: u, token: tok, csrf: csrf, bearer: bearer}, nil
}

func isAPI(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/") }

// handler is a handler that runs with a checked session.
type handler func(w http.ResponseWriter, r *http.Request, ss *session)

// need wraps h: a session is required, cookie-authenticated requests that
// change state carry the CSRF token, and the role must allow act (empty:
// any signed-in user).
func (s *Service) need(act Action, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ss, err := s.session(r)
		if err != nil {
			if !errors.Is(err, errNoSession) && !errors.Is(err, errSessionExpired) {
				s.writeError(w, r, nil, err) // the sessions table failed: 500
				return
			}
			if isAPI(r) {
				jsonError(w, http.StatusUnauthorized, err.Error())
			} else {
				http.Redirect(w, r, signinURL(r), http.StatusSeeOther)
			}
			return
		}
		if ss.user.MustChange && !mayWhileMustChange(r) {
			if isAPI(r) {
				jsonError(w, http.StatusForbidden, errMustChange.Error())
			} else {
				http.Redirect(w, r, "/password", http.StatusSeeOther)
			}
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !ss.bearer {
			tok := r.Header.Get("X-CSRF-Token")
			if tok == "" {
				tok = r.FormValue("csrf")
			}
			if subtle.ConstantTimeCompare([]byte(tok), []byte(ss.csrf)) != 1 {
				s.deny(w, r, ss, "CSRF token missing or wrong")
				return
			}
		}
		if !s.check(w, r, ss, act, Object{}) {
			return
		}
		if suspendedFrom(ss.user, act) {
			s.deny(w, r, ss, "suspended pending review: "+ss.user.Suspended)
			return
		}
		h(w, r, ss)
	}
}

// deny answers 403 with the reason, and audits it.
func (s *Service) deny(w http.ResponseWriter, r *http.Request, ss *session, why string) {
	actor := ""
	if ss != nil {
		actor = ss.user.Name
	}
	s.audit(r.Context(), "denied", actor, "", fmt.Sprintf("%s %s: %s", r.Method, r.URL.Path, why), false)
	s.writeError(w, r, ss, httperr.Forbidden(why))
}

// jsonError answers status and msg as JSON ({"error": msg}), through the
// one error writer.
func jsonError(w http.ResponseWriter, status int, msg string) {
	httperr.Writer{JSONOnly: true}.Write(w, nil, httperr.New(status, msg))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// Handler is the web page and the JSON API.
func (s *Service) Handler() http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("POST /api/v1/session", s.apiSignIn)
	m.HandleFunc("DELETE /api/v1/session", s.need("", s.apiSignOut))
	m.HandleFunc("POST /api/v1/password", s.apiChangePassword)
	m.HandleFunc("POST /api/v1/users/{name}/{op}", s.need(ActUsers, s.apiAccount))
	m.HandleFunc("GET /api/v1/recordings", s.need(ActSearch, s.apiRecordings))
	m.HandleFunc("GET /api/v1/recordings/{app}/{id}", s.need(ActSearch, s.apiRecording))
	m.HandleFunc("GET /api/v1/recordings/{app}/{id}/audio", s.need(ActPlay, s.apiAudio))
	m.HandleFunc("POST /api/v1/recordings/{app}/{id}/hold", s.need(ActHold, s.apiHold))
	m.HandleFunc("POST /api/v1/links", s.need(ActLink, s.apiMintLink))
	m.HandleFunc("DELETE /api/v1/links/{id}", s.need("", s.apiRevokeLink))
	m.HandleFunc("GET /l/{token}", s.streamLink)
	m.HandleFunc("POST /api/v1/requests", s.need("", s.apiRequest))
	m.HandleFunc("GET /api/v1/requests", s.need("", s.apiRequests))
	m.HandleFunc("POST /api/v1/requests/{id}/approve", s.need("", s.apiDecide(true)))
	m.HandleFunc("POST /api/v1/requests/{id}/reject", s.need("", s.apiDecide(false)))
	m.HandleFunc("GET /api/v1/requests/{id}/export", s.need(ActExport, s.apiExport))
	m.HandleFunc("POST /api/v1/subject", s.need(ActSubject, s.apiSubject))
	m.HandleFunc("GET /api/v1/users", s.need(ActUsers, s.apiUsers))
	m.HandleFunc("POST /api/v1/users/{name}/clear", s.need(ActClear, s.apiClear))
	m.HandleFunc("GET /api/v1/audit", s.need(ActAudit, s.apiAudit))
	m.HandleFunc("GET /api/v1/fleet", s.need(ActFleet, s.apiFleet))
	s.webRoutes(m)
	s.insiderRoutes(m)
	s.queueRoutes(m)
	return securityHeaders(m)
}

// CSP is every reply's Content-Security-Policy: scripts and styles only
// from the archive's static files (no inline script, no inline style),
// nothing framed, forms posted only here.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// securityHeaders: nothing is cached or framed, scripts only from here.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Strict-Transport-Security", "max-age=31536000")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Content-Security-Policy", CSP)
		if hd.Get("Cache-Control") == "" {
			hd.Set("Cache-Control", "no-store")
		}
		h.ServeHTTP(w, r)
	})
}

// Serve serves HTTPS on ln with the archive's server certificate until
// ctx ends (after CheckKeys: a keyring the index was not keyed with is
// refused), and runs the blind indexer, the fleet watch and the anchoring
// of the archive's own trail in the background.
func (s *Service) Serve(ctx context.Context, ln net.Listener) error {
	if err := s.CheckKeys(ctx); err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(s.A.Dir, "server.crt"), filepath.Join(s.A.Dir, "server.key"))
	if err != nil {
		return fmt.Errorf("access: server certificate: %w", err)
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}, CurvePreferences: KeyExchanges()},
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          log.New(discardTLSNoise{s}, "", 0),
	}
	s.sealPending(ctx)
	go s.background(ctx)
	go func() {
		<-ctx.Done()
		s.flushRefusals(context.Background(), true)
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			srv.Close()
		}
	}()
	err = srv.ServeTLS(ln, "", "")
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

type discardTLSNoise struct{ s *Service }

func (d discardTLSNoise) Write(b []byte) (int, error) {
	d.s.A.Logger.Debug("web server", "msg", strings.TrimSpace(string(b)))
	return len(b), nil
}

// background runs until ctx ends.
func (s *Service) background(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		if _, err := s.IndexPending(ctx); err != nil && ctx.Err() == nil {
			s.A.Logger.Error("blind index", "err", err)
		}
		s.WatchFleet(ctx)
		s.AnchorTrail(ctx)
		s.sealPending(ctx)
		s.flushRefusals(ctx, false)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

package access

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Sign-in is built so that nobody can turn it into a weapon:
//
//   - Every limit is checked before the expensive work: the name's
//     length and characters, then a token bucket per source (an IPv4
//     address or an IPv6 /64), a backoff per source and name, and a token
//     bucket per name (sources the user signed in from before are exempt
//     from the last, so a flood on a name does not keep its owner out).
//   - argon2id (19 MiB each) runs behind a semaphore sized to the cores
//     (at most maxHashers), with a short bounded queue: a flood of
//     sign-ins costs the service at most maxHashers × 19 MiB, never
//     requests × 19 MiB; beyond the queue it answers 503 at once. A
//     source the user signed in from before waits in the queue however
//     long it is, so the owner still gets in under a flood.
//   - Every admitted sign-in hashes exactly once: an unknown name against
//     a precomputed dummy hash, a disabled or locked account against its
//     own, so the answer's timing says nothing about which names exist.
//   - Failures are counted in one atomic UPDATE, a TOTP step is used in a
//     compare-and-set (one session per code).
//   - No hard lock an outsider can refresh: failures slow their source
//     (backoff per source and name, doubling from the third failure up to
//     15 minutes); from maxFailures failures on, the account accepts only
//     sources its owner signed in from before, until the owner signs in
//     or an administrator unlocks it.
//   - Refusals before a session exists are aggregated: one audit entry per
//     source and minute with the count and the reasons (and at most five
//     well-formed names), for sign-ins and for /l/ link requests alike;
//     past maxAggSources sources in a minute, the others share one entry,
//     so that a flood from many sources writes a bounded trail too.
const (
	maxFailures   = 5                // then only known sources, until unlocked
	freeFailures  = 3                // per source and name before the backoff
	maxBackoff    = 15 * time.Minute // the backoff's ceiling
	maxSecretLen  = 1024             // bytes of password or code read
	maxSignInBody = 8 << 10          // bytes of a sign-in request read
	hashWait      = 5 * time.Second  // longest wait for the hash semaphore
	maxTracked    = 100_000          // sources, names or pairs kept in memory
	maxNamesInAu  = 5                // names an aggregated audit entry lists
	maxHashers    = 2                // argon2 runs at once: 2 × 19 MiB live, and the garbage (4 made 228 MiB peaks)
	maxAggSources = 40               // sources with an entry of their own per minute
)

var (
	sourceRate  = rate.Limit(1) // sign-ins per second and source
	sourceBurst = 20
	nameRate    = rate.Every(6 * time.Second) // per name, from new sources
	nameBurst   = 10
)

// Sign-in refusals. ErrCredentials is every refusal after the hash.
var (
	// ErrCredentials is every sign-in failure's answer (which part was
	// wrong is in the audit trail, not in the reply).
	ErrCredentials = errors.New("wrong name, password or code")
	errMalformed   = errors.New("malformed sign-in: a name is 1-64 lower-case letters, digits, '.', '_' or '-'")
	errBusy        = errors.New("too many sign-ins at once: try again in a moment")
	errMustChange  = errors.New("the one-time password only sets a new one: POST /api/v1/password (or sign in on the web page)")
)

// throttled is a refusal before the hash, with when to try again.
type throttled struct{ retry time.Duration }

func (t throttled) Error() string {
	return fmt.Sprintf("too many sign-in attempts: try again in %s", t.retry.Round(time.Second))
}

// signInStatus answers a sign-in error with its status (and Retry-After).
func signInStatus(w http.ResponseWriter, err error) int {
	var th throttled
	switch {
	case errors.As(err, &th):
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(max(th.retry.Seconds(), 1)))))
		return http.StatusTooManyRequests
	case errors.Is(err, errBusy):
		w.Header().Set("Retry-After", "1")
		return http.StatusServiceUnavailable
	case errors.Is(err, errMalformed), errors.Is(err, errBadPassword):
		return http.StatusBadRequest
	case errors.Is(err, errMustChange):
		return http.StatusForbidden
	case errors.Is(err, errNoKeys):
		return http.StatusServiceUnavailable
	case errors.Is(err, ErrCredentials):
		return http.StatusUnauthorized
	}
	return http.StatusInternalServerError
}

// guard holds the sign-in limits of one service.
type guard struct {
	hashes  atomic.Int64 // argon2 computations (tests and the bench read it)
	sem     chan struct{}
	waiting atomic.Int64
	maxWait int64

	mu      sync.Mutex
	sources map[string]*limiter
	names   map[string]*limiter
	pairs   map[string]*backoff // source "\x00" name
	pruned  time.Time

	amu      sync.Mutex
	minute   int64
	refused  map[aggKey]*agg
	writeMu  sync.Mutex     // one minute's entries at a time, in order
	flushing sync.WaitGroup // entries being written
}

type limiter struct {
	l    *rate.Limiter
	seen time.Time
}

type backoff struct {
	fails, inflight int
	next, seen      time.Time
}

type aggKey struct{ kind, source string }

type agg struct {
	count   int
	reasons map[string]int
	names   []string
}

func newGuard() *guard {
	n := min(runtime.GOMAXPROCS(0), maxHashers)
	dummyHash() // computed once per process, before the first sign-in
	return &guard{sem: make(chan struct{}, n), maxWait: int64(4 * n),
		sources: map[string]*limiter{}, names: map[string]*limiter{}, pairs: map[string]*backoff{}, refused: map[aggKey]*agg{}}
}

var dummy struct {
	once sync.Once
	enc  string
}

// dummyHash is an argon2id hash of a random password with the same
// parameters as every user's: unknown names are checked against it.
func dummyHash() string {
	dummy.once.Do(func() { dummy.enc = hashPassword(newSecret(16)) })
	return dummy.enc
}

// acquire takes a hashing slot, waiting at most hashWait behind at most
// maxWait others (behind any number for a known source).
func (g *guard) acquire(ctx context.Context, known bool) (release func(), err error) {
	if g.waiting.Add(1) > g.maxWait && !known {
		g.waiting.Add(-1)
		return nil, errBusy
	}
	defer g.waiting.Add(-1)
	t := time.NewTimer(hashWait)
	defer t.Stop()
	select {
	case g.sem <- struct{}{}:
		var once sync.Once
		return func() { once.Do(func() { <-g.sem }) }, nil
	case <-t.C:
		return nil, errBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// verify checks a password against an encoded hash: one argon2 run,
// behind the semaphore the caller holds.
func (s *Service) verify(enc, pw string) bool {
	s.guard.hashes.Add(1)
	return checkPassword(enc, pw)
}

// hashNew hashes a new password behind the semaphore.
func (s *Service) hashNew(ctx context.Context, pw string) (string, error) {
	release, err := s.guard.acquire(ctx, true)
	if err != nil {
		return "", err
	}
	defer release()
	s.guard.hashes.Add(1)
	return hashPassword(pw), nil
}

// sourceOf is the key a request's source is limited by: its IPv4 address
// or its IPv6 /64.
func sourceOf(r *http.Request) string {
	ip := remoteIP(r)
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// backoffFor is how long a source waits after its fails-th failure on a
// name.
func backoffFor(fails int) time.Duration {
	if fails < freeFailures {
		return 0
	}
	return min(time.Second<<min(fails-freeFailures, 20), maxBackoff)
}

// admit checks the limits of a sign-in of name from src before the hash.
// done must be called with the outcome when admit returned nil.
func (g *guard) admit(src, name string, known bool, now time.Time) (done func(failed bool), err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.prune(now)
	sl := g.sources[src]
	if sl == nil {
		sl = &limiter{l: rate.NewLimiter(sourceRate, sourceBurst)}
		g.sources[src] = sl
	}
	sl.seen = now
	if !sl.l.AllowN(now, 1) {
		return nil, throttled{time.Second}
	}
	key := src + "\x00" + name
	b := g.pairs[key]
	if b == nil {
		b = &backoff{}
		g.pairs[key] = b
	}
	b.seen = now
	// Attempts in flight count as failures to come: parallel guesses
	// get no more than sequential ones.
	budget := max(freeFailures-b.fails, 1)
	if now.Before(b.next) || b.inflight >= budget {
		return nil, throttled{max(b.next.Sub(now), time.Second)}
	}
	if !known {
		nl := g.names[name]
		if nl == nil {
			nl = &limiter{l: rate.NewLimiter(nameRate, nameBurst)}
			g.names[name] = nl
		}
		nl.seen = now
		if !nl.l.AllowN(now, 1) {
			return nil, throttled{time.Duration(float64(time.Second) / float64(nameRate))}
		}
	}
	b.inflight++
	return func(failed bool) {
		g.mu.Lock()
		defer g.mu.Unlock()
		b.inflight--
		if !failed {
			delete(g.pairs, key)
			return
		}
		b.fails++
		if d := backoffFor(b.fails); d > 0 {
			b.next = now.Add(d)
		}
	}, nil
}

// forget drops the backoffs of a name (an administrator unlocked it).
func (g *guard) forget(name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for k := range g.pairs {
		if strings.HasSuffix(k, "\x00"+name) {
			delete(g.pairs, k)
		}
	}
	delete(g.names, name)
}

// prune keeps the maps bounded: entries idle for an hour (longer than any
// backoff) go, at most once a minute or when a map is full.
func (g *guard) prune(now time.Time) {
	full := len(g.sources) >= maxTracked || len(g.names) >= maxTracked || len(g.pairs) >= maxTracked
	if !full && now.Sub(g.pruned) < time.Minute {
		return
	}
	g.pruned = now
	idle := now.Add(-time.Hour)
	for k, v := range g.sources {
		if v.seen.Before(idle) {
			delete(g.sources, k)
		}
	}
	for k, v := range g.names {
		if v.seen.Before(idle) {
			delete(g.names, k)
		}
	}
	for k, v := range g.pairs {
		if v.seen.Before(idle) && v.inflight == 0 {
			delete(g.pairs, k)
		}
	}
	// Still full: a flood from more sources than an hour lets go. Drop
	// the limiters (a fresh one allows a burst again) rather than grow.
	if len(g.sources) >= maxTracked {
		clear(g.sources)
	}
	if len(g.names) >= maxTracked {
		clear(g.names)
	}
	if len(g.pairs) >= maxTracked {
		for k, v := range g.pairs {
			if v.inflight == 0 && v.fails < freeFailures {
				delete(g.pairs, k)
			}
		}
	}
}

// refuseUnauth records a refusal before any session exists, aggregated per
// source and minute; the entries of a minute are written when the next
// minute starts (flushRefusals), off the request's path.
func (s *Service) refuseUnauth(ctx context.Context, kind, src, reason, name string) {
	g := s.guard
	s.flushRefusals(ctx, false)
	g.amu.Lock()
	defer g.amu.Unlock()
	k := aggKey{kind, src}
	a := g.refused[k]
	if a == nil {
		if len(g.refused) >= maxAggSources {
			k.source = "other sources"
			a = g.refused[k]
		}
		if a == nil {
			a = &agg{reasons: map[string]int{}}
			g.refused[k] = a
		}
	}
	a.count++
	a.reasons[reason]++
	if name != "" && len(a.names) < maxNamesInAu && !slices.Contains(a.names, name) {
		a.names = append(a.names, name)
	}
}

// flushRefusals writes the aggregated refusals of minutes that are over
// in the background (all of them, and waits, with force: the service is
// stopping).
func (s *Service) flushRefusals(ctx context.Context, force bool) {
	g := s.guard
	now := s.now()
	m := now.Unix() / 60
	g.amu.Lock()
	if g.minute == 0 {
		g.minute = m
	}
	if m == g.minute && !force {
		g.amu.Unlock()
		return
	}
	out, minute := g.refused, g.minute
	g.refused, g.minute = map[aggKey]*agg{}, m
	g.flushing.Add(1)
	g.amu.Unlock()
	if len(out) == 0 {
		g.flushing.Done()
		if force {
			g.flushing.Wait()
		}
		return
	}
	ctx = context.WithoutCancel(ctx)
	if force {
		s.writeRefusals(ctx, out, minute)
		g.flushing.Wait()
		return
	}
	go s.writeRefusals(ctx, out, minute)
}

func (s *Service) writeRefusals(ctx context.Context, out map[aggKey]*agg, minute int64) {
	g := s.guard
	defer g.flushing.Done()
	g.writeMu.Lock()
	defer g.writeMu.Unlock()
	keys := make([]aggKey, 0, len(out))
	for k := range out {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b aggKey) int { return strings.Compare(a.kind+a.source, b.kind+b.source) })
	at := time.Unix(minute*60, 0).UTC().Format("2006-01-02T15:04Z")
	for _, k := range keys {
		a := out[k]
		rs := make([]string, 0, len(a.reasons))
		for r, n := range a.reasons {
			rs = append(rs, fmt.Sprintf("%s %d", r, n))
		}
		slices.Sort(rs)
		d := fmt.Sprintf("%d refused from %s in the minute from %s: %s", a.count, k.source, at, strings.Join(rs, ", "))
		if len(a.names) > 0 {
			d += "; names " + strings.Join(a.names, ", ")
		}
		s.audit(ctx, k.kind, "", "", d, false)
	}
}

// validName reports whether a sign-in name is well-formed (and short)
// enough to be looked up, limited and audited.
func validName(name string) bool { return len(name) <= 64 && userRe.MatchString(name) }

// purposes of authenticate.
const (
	forSession  = iota // a session: the one-time password is refused
	forPassword        // setting a new password: the one-time one is fine
)

// authenticate checks a sign-in: the limits first, then one argon2 run,
// then the second factor (each code once). It answers ErrCredentials for
// every wrong part, a throttled error or errBusy before the hash.
func (s *Service) authenticate(ctx context.Context, src, name, password, code string, purpose int) (*User, error) {
	now := s.now()
	if !validName(name) || len(password) > maxSecretLen || len(code) > 16 {
		s.refuseUnauth(ctx, "signin_refused", src, "malformed", "")
		return nil, errMalformed
	}
	known := s.knownSource(ctx, name, src)
	done, err := s.guard.admit(src, name, known, now)
	if err != nil {
		s.refuseUnauth(ctx, "signin_refused", src, "throttled", name)
		return nil, err
	}
	failed := true
	defer func() { done(failed) }()
	release, err := s.guard.acquire(ctx, known)
	if err != nil {
		s.refuseUnauth(ctx, "signin_refused", src, "busy", name)
		failed = false
		return nil, err
	}
	u, err := getUser(ctx, s.db(), name)
	if err != nil && !errors.Is(err, ErrNoUser) {
		release()
		failed = false
		return nil, err
	}
	enc := dummyHash()
	if u != nil {
		enc = u.password
	}
	ok := s.verify(enc, password) // exactly once, whoever asks
	release()

	why, count, alone := "", false, false
	step := int64(-1)
	switch {
	case u == nil:
		why = "unknown user"
	case !ok:
		why, count = "wrong password", true
	case u.Disabled != "":
		why = "account disabled"
	case u.Failures >= maxFailures && !known:
		why = "locked for new sources"
	default:
		secret, err := s.totpSecret(ctx, u)
		if err != nil {
			failed = false
			return nil, err
		}
		if step = totpMatch(secret, code, now); step < 0 {
			why, count = "wrong second factor", true
		} else if step <= u.totpStep {
			why, alone = "second factor code already used", true
		} else if u.MustChange && purpose == forSession {
			// Right password and code, but a one-time password: it sets
			// a new one and nothing else. The code stays unused.
			failed = false
			s.audit(ctx, "signin_failed", name, "", "one-time password refused for a session, from "+src, false)
			return nil, errMustChange
		}
	}
	if why == "" {
		// Use the code: one step, one success, however many race.
		res, err := s.db().ExecContext(ctx, `UPDATE users SET failed = 0, totp_step = ? WHERE name = ? AND totp_step < ?`, step, name, step)
		if err != nil {
			failed = false
			return nil, err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			failed = false
			s.trustSource(ctx, name, src)
			u.totpStep, u.Failures = step, 0
			return u, nil
		}
		why, alone = "second factor code already used", true
	}
	alert := false
	switch {
	case u == nil:
		// Every refusal after the hash writes once, like a counted
		// failure (here a row rewritten with its own value), so that its
		// time tells nothing about the name either.
		_, _ = s.db().ExecContext(ctx, `UPDATE users SET failed = failed WHERE name = (SELECT MIN(name) FROM users)`) // for its time only: it changes nothing
	case !count:
		_, _ = s.db().ExecContext(ctx, `UPDATE users SET failed = failed WHERE name = ?`, name) // for its time only: it changes nothing
	default:
		var n int
		if err := s.db().QueryRowContext(ctx, `UPDATE users SET failed = failed + 1 WHERE name = ? RETURNING failed`, name).Scan(&n); err == nil && n == maxFailures {
			why += fmt.Sprintf("; %d failures: sign-ins only from known sources until the owner signs in or an administrator unlocks", n)
			alone, alert = true, true
		}
	}
	if alone {
		s.audit(ctx, "signin_failed", name, "", why+", from "+src, alert)
	} else {
		s.refuseUnauth(ctx, "signin_refused", src, why, name)
	}
	return nil, ErrCredentials
}

// knownSource reports whether name signed in successfully from src before.
func (s *Service) knownSource(ctx context.Context, name, src string) bool {
	var n int
	err := s.db().QueryRowContext(ctx, `SELECT COUNT(*) FROM signin_sources WHERE name = ? AND source = ?`, name, src).Scan(&n)
	return err == nil && n > 0
}

func (s *Service) trustSource(ctx context.Context, name, src string) {
	if _, err := s.db().ExecContext(ctx, `INSERT INTO signin_sources (name, source, last_ok) VALUES (?, ?, ?) ON CONFLICT (name, source) DO UPDATE SET last_ok = excluded.last_ok`, name, src, ts(s.now())); err != nil {
		s.A.Logger.Error("remembering a sign-in source", "user", name, "err", err)
	}
}

// signInRequest reads a sign-in's source and checks it: the user or an
// error whose status signInStatus gives.
func (s *Service) signInRequest(r *http.Request, name, password, code string, purpose int) (*User, error) {
	return s.authenticate(r.Context(), sourceOf(r), name, password, code, purpose)
}

// linkRef is what an aggregated link refusal names of a link token: its
// first 16 characters when they look like a token, else nothing.
func linkRef(id string) string {
	if len(id) > 16 {
		id = id[:16]
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return ""
		}
	}
	return id
}

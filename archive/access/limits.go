package access

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spanvault/spanvault/archive"
)

// Insider limits. Whatever leaves the archive as audio (a play in the
// browser or through the API, a stream through a CRM link, an export)
// is admitted before the first byte is served, in one transaction that
// holds the user's row: the user (for a link, its minter) must exist,
// not be suspended, still have the role and the branch, be within
// working hours, and either have this recording counted already within
// the insider window (a seek, a replay) or still be under the limit of
// distinct recordings. Access outside working hours and the first
// recording past the limit are refused and suspend the user, with an
// alert to the DPO. Parallel requests are serialised by the row (SQLite
// takes the write lock at BEGIN; PostgreSQL locks the row FOR UPDATE),
// so a limit of one serves exactly one recording.
//
// A page view is not a play: the page fetches no audio until played,
// and views are logged as views (accessed, action "view").

// Actions in the accesses table. The counted ones are audio that left.
const (
	accView   = "view"   // a recording's page or JSON (no audio)
	accPlay   = "play"   // audio through a session
	accStream = "stream" // audio through a streaming link (name: its minter)
	accExport = "export" // an approved export downloaded
	accLink   = "link"   // a streaming link minted
	accDTMF   = "dtmf"   // the call's DTMF digits revealed
)

// counted lists the actions the limit counts, for SQL.
const counted = `('play', 'stream', 'export')`

// needs is the role permission each counted action needs at the moment
// it is served (a link's minter may have lost it since minting).
var needs = map[string]Action{accPlay: ActPlay, accStream: ActLink, accExport: ActExport}

type insiderState struct {
	once  sync.Once
	hours *archive.Hours
}

// workingHours are the configured hours; a configuration edited past
// validation falls back to the defaults (never to "any time").
func (s *Service) workingHours() *archive.Hours {
	s.insider.once.Do(func() {
		h, err := s.cfg.Hours()
		if err != nil {
			s.A.Logger.Error("access: working hours: using the defaults", "err", err)
			h, _ = archive.ParseWorkingHours("", "", s.cfg.TimeZone)
			if h == nil {
				h, _ = archive.ParseWorkingHours("", "", "")
			}
		}
		s.insider.hours = h
	})
	return s.insider.hours
}

// rangeStart is where a request's byte range starts: 0 without a Range
// header, -1 for a suffix range or one that does not parse.
func rangeStart(r *http.Request) int64 {
	h := r.Header.Get("Range")
	if h == "" {
		return 0
	}
	v, ok := strings.CutPrefix(h, "bytes=")
	if !ok {
		return -1
	}
	first, _, _ := strings.Cut(v, ",")
	a, _, ok := strings.Cut(first, "-")
	n, err := strconv.ParseInt(strings.TrimSpace(a), 10, 64)
	if !ok || err != nil {
		return -1
	}
	return n
}

// admit decides whether name may have audio of app/rec now (action play,
// stream or export), counts it, and suspends past the limits. start
// says the request begins a play (no range, or one from byte 0): a play
// already counted in the window is logged again only then. via names
// the link of a stream. The error wraps errDenied and says why.
// sinceReview is the id of the user's last "reviewed" row (0: none):
// the counts start anew after a second person lifted a suspension,
// without rewriting the access history. One placeholder: the user.
const sinceReview = `(SELECT COALESCE(MAX(id), 0) FROM accesses WHERE name = ? AND action = 'reviewed')`

func (s *Service) admit(ctx context.Context, name, action, app, rec, via string, start bool) error {
	now := s.now()
	tx, err := s.db().BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("insider limits: %w", err)
	}
	defer tx.Rollback()
	if s.db().Postgres() {
		if _, err := tx.ExecContext(ctx, `SELECT name FROM users WHERE name = ? FOR UPDATE`, name); err != nil {
			return fmt.Errorf("insider limits: %w", err)
		}
	}
	var role, scope, suspended string
	if err := tx.QueryRowContext(ctx, `SELECT role, branches, suspended FROM users WHERE name = ?`, name).Scan(&role, &scope, &suspended); err != nil {
		return fmt.Errorf("%w: user %s: no such user", errDenied, name)
	}
	u := &User{Name: name, Role: Role(role)}
	if scope != "*" {
		u.Branches = strings.Split(scope, ",")
	}
	switch {
	case suspended != "":
		return fmt.Errorf("%w: %s is suspended pending review: %s", errDenied, name, suspended)
	case !Allowed(u.Role, needs[action]):
		return fmt.Errorf("%w: %s's role %s may not %s", errDenied, name, u.Role, needs[action])
	case !u.InScope(app):
		return fmt.Errorf("%w: branch %s is outside %s's scope", errDenied, app, name)
	}
	why := ""
	hours := s.workingHours()
	if !hours.Contains(now) {
		why = fmt.Sprintf("%s of %s/%s at %s, outside working hours %s", action, app, rec, now.In(hours.Loc).Format("Mon 15:04"), hours)
	}
	window := ts(now.Add(-time.Duration(s.cfg.InsiderWindow)))
	var already int
	if why == "" {
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM accesses WHERE name = ? AND appliance = ? AND recording = ? AND time >= ? AND id > `+sinceReview+` AND action IN `+counted,
			name, app, rec, window, name).Scan(&already); err != nil {
			return fmt.Errorf("insider limits: %w", err)
		}
	}
	if why == "" && already == 0 {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(DISTINCT appliance || '/' || recording) FROM accesses WHERE name = ? AND time >= ? AND id > `+sinceReview+` AND action IN `+counted,
			name, window, name).Scan(&n); err != nil {
			return fmt.Errorf("insider limits: %w", err)
		}
		if n >= s.cfg.InsiderMaxPlays {
			why = fmt.Sprintf("%s of %s/%s refused: %d recordings played, streamed or exported within %s (limit %d)", action, app, rec, n, time.Duration(s.cfg.InsiderWindow), s.cfg.InsiderMaxPlays)
		}
	}
	if why != "" {
		if _, err := tx.ExecContext(ctx, `UPDATE users SET suspended = ? WHERE name = ? AND suspended = ''`, why, name); err != nil {
			return fmt.Errorf("insider limits: %w", err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("insider limits: %w", err)
		}
		s.audit(ctx, "insider_suspended", name, app, "suspended until a second person clears it: "+why, true)
		return fmt.Errorf("%w: suspended pending review: %s", errDenied, why)
	}
	if already == 0 || start {
		if _, err := s.A.Index.AddAccessTx(ctx, tx, now, name, action, app, rec, via); err != nil {
			return fmt.Errorf("insider limits: %w", err)
		}
	}
	return tx.Commit()
}

// suspendedFrom: a suspended user keeps no personal data: no search, no
// recording (numbers, digits), no audio, no export, no subject report,
// no link; their own requests stay theirs.
func suspendedFrom(u *User, act Action) bool {
	if u.Suspended == "" {
		return false
	}
	switch act {
	case ActSearch, ActPlay, ActExport, ActSubject, ActLink, ActDTMF:
		return true
	}
	return false
}

var errNoPublicURL = errors.New("access.public_url is not set in archive.toml: no streaming link can be minted (links are built on it, never on the request's Host)")

// linkBase is where minted links point: the configured public URL.
func (s *Service) linkBase() (string, error) {
	if s.cfg.PublicURL == "" {
		return "", errNoPublicURL
	}
	return strings.TrimSuffix(s.cfg.PublicURL, "/"), nil
}

// accessWords says an access in words for an Art. 15 report.
func accessWords(action, via string) string {
	base, reviewed := strings.CutSuffix(action, "-reviewed")
	w := map[string]string{
		accView:   "viewed the recording's details (no audio)",
		accPlay:   "played the recording",
		accStream: "streamed the recording through a streaming link they made",
		accExport: "exported the recording",
		accLink:   "made a streaming link to the recording",
		accDTMF:   "revealed the key presses of the call",
	}[base]
	if w == "" {
		w = action
	}
	if base == accStream && via != "" {
		w += " (link " + via + ")"
	}
	if reviewed {
		w += " (reviewed after a suspension)"
	}
	return w
}

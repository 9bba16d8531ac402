package access

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/capture/sip"
	"github.com/spanvault/spanvault/internal/httperr"
	"github.com/spanvault/spanvault/record"
	"github.com/spanvault/spanvault/sync/wire"
)

// Blind index term kinds.
const (
	termNumber = "number"
	termExt    = "ext"
	termTag    = "tag"
)

// IndexPending opens the sealed metadata of the records ingest queued for
// the blind index and writes their terms (HMACs of numbers, the agent's
// extension and tags) and clear facts. It returns how many it indexed.
// Without the keyring nothing is taken off the queue, so that the terms
// follow once the identity is loaded. The queue is normally empty, so
// calling it before every search costs one indexed query.
func (s *Service) IndexPending(ctx context.Context) (int, error) {
	if s.Keys == nil {
		return 0, nil
	}
	var err error
	s.backfill.Do(func() {
		// Records ingested before this service existed (or before the
		// queue did): queue whatever has no facts yet, once per start.
		_, err = s.db().ExecContext(ctx, `INSERT INTO search_queue (appliance, id, kind) SELECT r.appliance, r.id, r.kind FROM records r
			LEFT JOIN search_facts f ON f.appliance = r.appliance AND f.id = r.id AND f.kind = r.kind WHERE f.id IS NULL ON CONFLICT DO NOTHING`)
		if err == nil {
			err = s.backfillCompleteness(ctx)
		}
		if err == nil {
			err = s.replaceDirections(ctx) // search_direction.go
		}
	})
	if err != nil {
		return 0, fmt.Errorf("blind index backfill: %w", err)
	}
	total := 0
	for {
		rows, err := s.db().QueryContext(ctx, `SELECT q.appliance, q.id, q.kind, COALESCE(r.entry, '{}'), r.sealed, r.subject FROM search_queue q
			LEFT JOIN records r ON r.appliance = q.appliance AND r.id = q.id AND r.kind = q.kind LIMIT 500`)
		if err != nil {
			return total, err
		}
		type pending struct {
			app, id, kind, entry string
			sealed, subject      []byte
		}
		var ps []pending
		for rows.Next() {
			var p pending
			// A record deleted since it was queued has no row: its
			// queue entry goes (nothing to index).
			if err := rows.Scan(&p.app, &p.id, &p.kind, &p.entry, &p.sealed, &p.subject); err != nil {
				rows.Close()
				return total, err
			}
			ps = append(ps, p)
		}
		rows.Close()
		if len(ps) == 0 {
			return total, nil
		}
		tx, err := s.db().BeginTx(ctx, nil)
		if err != nil {
			return total, err
		}
		for _, p := range ps {
			var e record.Entry
			if p.entry != "" {
				if err := json.Unmarshal([]byte(p.entry), &e); err != nil {
					s.A.Logger.Error("search index: stored entry unreadable", "appliance", p.app, "id", p.id, "err", err)
				}
			}
			terms := map[string]bool{}
			if len(p.subject) > 0 {
				if b, err := s.Keys.Decrypt(p.subject); err == nil {
					var sub struct {
						Numbers []string `json:"numbers"`
						Number  string   `json:"number"`
					}
					if err := json.Unmarshal(b, &sub); err != nil {
						s.A.Logger.Error("search index: sealed subject unreadable", "appliance", p.app, "id", p.id, "err", err)
					}
					if sub.Number != "" {
						sub.Numbers = append(sub.Numbers, sub.Number)
					}
					for _, n := range sub.Numbers {
						for _, t := range s.numberTerms(n) {
							terms[t] = true
						}
					}
				}
			}
			if pers := s.personal(p.sealed); pers != nil {
				for _, n := range pers.Numbers {
					for _, t := range s.numberTerms(n) {
						terms[t] = true
					}
				}
				e.Direction = s.direction(e.Direction, pers)
				for _, x := range extensions(e.Direction, pers) {
					terms[s.Keys.Term(termExt, x)] = true
				}
				for _, t := range pers.Tags {
					terms[s.Keys.Term(termTag, strings.ToLower(strings.TrimSpace(t)))] = true
				}
			}
			for t := range terms {
				if _, err := tx.ExecContext(ctx, `INSERT INTO search_terms (term, appliance, id, kind) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`, t, p.app, p.id, p.kind); err != nil {
					tx.Rollback()
					return total, err
				}
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO search_facts (appliance, id, kind, direction, duration_ms, lost_capture) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
				p.app, p.id, p.kind, e.Direction, int64(e.Duration*1000), lostCapture(&e)); err != nil {
				tx.Rollback()
				return total, err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM search_queue WHERE appliance = ? AND id = ? AND kind = ?`, p.app, p.id, p.kind); err != nil {
				tx.Rollback()
				return total, err
			}
		}
		if err := tx.Commit(); err != nil {
			return total, err
		}
		total += len(ps)
	}
}

// personal opens a record's sealed metadata (nil when it cannot).
func (s *Service) personal(sealed []byte) *record.Personal {
	if s.Keys == nil || len(sealed) == 0 {
		return nil
	}
	b, err := s.Keys.Decrypt(sealed)
	if err != nil {
		return nil
	}
	var p record.Personal
	if json.Unmarshal(b, &p) != nil {
		return nil
	}
	maskDTMF(&p) // revealed only through revealDTMF
	return &p
}

// extensions are the agent's side of a call: the callee of an inbound
// call, the caller of an outbound one, both when the box did not know.
func extensions(direction string, p *record.Personal) []string {
	from := record.NormalizeNumber(string(sip.User([]byte(p.From))))
	to := record.NormalizeNumber(string(sip.User([]byte(p.To))))
	var out []string
	switch direction {
	case "inbound":
		out = []string{to}
	case "outbound":
		out = []string{from}
	default:
		out = []string{from, to}
	}
	var keep []string
	for _, x := range out {
		if x != "" {
			keep = append(keep, x)
		}
	}
	return keep
}

// Search is what a user may ask for; zero fields do not filter.
type Search struct {
	From, To    time.Time
	Branches    []string
	Direction   string
	MinDuration time.Duration
	MaxDuration time.Duration
	Number      string
	Ext         string
	Tag         string
	Deleted     bool // include tombstones and deleted records
	Limit       int
	// IncompleteByUs: only recordings that miss packets which crossed
	// the mirrored wire (record.Completeness.IncompleteByUs).
	IncompleteByUs bool
	// Offset skips that many hits (pagination); Sort orders them
	// (sortOrders, default newest first); Class, Hold ("yes", "no") and
	// Show ("", "erased", "removed", "all": see search_page.go) filter.
	Offset int
	Sort   string
	Class  string
	Hold   string
	Show   string
}

// Hit is a search result: the clear index row, and the sealed parts
// opened for a user whose role may hear the recording.
type Hit struct {
	index.Record
	Direction string           `json:"direction,omitempty"`
	Duration  float64          `json:"duration_s"`
	Personal  *record.Personal `json:"personal,omitempty"`
}

// searchTotal runs a query within the user's branches, with the number
// of hits of the query as a whole (not only the page of Limit hits from
// Offset). The number, extension and tag are looked up through the blind
// index: one indexed query.
func (s *Service) searchTotal(ctx context.Context, u *User, q Search) ([]Hit, int, error) {
	if _, err := s.IndexPending(ctx); err != nil {
		return nil, 0, err
	}
	from := ` FROM records r LEFT JOIN search_facts f ON f.appliance = r.appliance AND f.id = r.id AND f.kind = r.kind WHERE 1=1`
	where, args, err := s.searchWhere(u, q)
	if err != nil {
		return nil, 0, err
	}
	// The count stops at maxCount+1: "more than 10,000" is what a person
	// needs, and counting ten million rows is not.
	var total int
	if err := s.db().QueryRowContext(ctx, fmt.Sprintf(`SELECT COUNT(*) FROM (SELECT 1`+from+where+` LIMIT %d) n`, maxCount+1), args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("search count: %w", err)
	}
	limit := q.Limit
	if limit <= 0 || limit > 1000 {
		limit = 200
	}
	offset := max(q.Offset, 0)
	order, ok := sortOrders[q.Sort]
	if !ok {
		order = sortOrders[""]
	}
	sqlq := `SELECT r.appliance, r.id, r.kind, r.start, r.class, r.retain_until, r.hold, r.recorded, r.size, r.sha256, r.deleted_at, r.entry, r.sealed, r.received_at,
		COALESCE(f.direction, ''), COALESCE(f.duration_ms, 0), r.removed_from_box_at` + from + where +
		fmt.Sprintf(" ORDER BY %s, r.appliance, r.id LIMIT %d OFFSET %d", order, limit, offset)
	rows, err := s.db().QueryContext(ctx, sqlq, args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []Hit
	for rows.Next() {
		var h Hit
		var st, ru, del, rec, rm string
		var ms int64
		if err := rows.Scan(&h.Appliance, &h.ID, &h.Kind, &st, &h.Class, &ru, &h.Hold, &h.Recorded, &h.Size, &h.SHA256, &del, &h.Entry, &h.Sealed, &rec, &h.Direction, &ms, &rm); err != nil {
			return nil, 0, err
		}
		h.Start, h.RetainUntil, h.DeletedAt, h.ReceivedAt, h.RemovedFromBoxAt = parseTS(st), parseTS(ru), parseTS(del), parseTS(rec), parseTS(rm)
		h.Duration = float64(ms) / 1000
		out = append(out, h)
	}
	return out, total, rows.Err()
}

// maxCount is where a search stops counting: a total above it is
// reported as maxCount+1 ("more than maxCount").
const maxCount = 10000

// sortOrders are the orders a search may ask for (key: the "sort"
// parameter); anything else is the default, newest first.
var sortOrders = map[string]string{
	"":             "r.start DESC",
	"newest":       "r.start DESC",
	"oldest":       "r.start ASC",
	"longest":      "COALESCE(f.duration_ms, 0) DESC, r.start DESC",
	"shortest":     "COALESCE(f.duration_ms, 0) ASC, r.start DESC",
	"branch":       "r.appliance ASC, r.start DESC",
	"retain_until": "r.retain_until ASC, r.start DESC",
}

// searchWhere is a search's conditions (after "WHERE 1=1") and their
// arguments, within the user's branches.
func (s *Service) searchWhere(u *User, q Search) (string, []any, error) {
	var sqlq string
	var args []any
	add := func(cond string, v ...any) { sqlq += " AND " + cond; args = append(args, v...) }
	if (q.Show == "erased" || q.Show == "all") && (q.Number != "" || q.Ext != "" || q.Tag != "") {
		// What an erasure took stays out of reach: an erased call is not
		// found by its number, nor shown with it (searchRecordingsTotal).
		return "", nil, httperr.BadRequest("erased recordings cannot be searched by number, extension or tag")
	}
	switch {
	case q.Deleted || q.Show == "all":
	case q.Show == "erased":
		add("(r.kind = ? OR r.deleted_at <> '')", wire.KindTombstone)
	case q.Show == "removed":
		add("r.kind <> ? AND r.deleted_at = '' AND r.removed_from_box_at <> ''", wire.KindTombstone)
	default:
		// Only an erasure sets deleted_at: recordings their box let go
		// (removed_from_box_at) are the archive's to serve.
		add("r.kind <> ? AND r.deleted_at = ''", wire.KindTombstone)
	}
	branches := q.Branches
	if !u.AllBranches() {
		if len(branches) == 0 {
			branches = u.Branches
		}
		for _, b := range branches {
			if !u.InScope(b) {
				return "", nil, fmt.Errorf("%w: branch %s is outside your scope", errDenied, b)
			}
		}
	}
	if len(branches) > 0 {
		add("r.appliance IN (?"+strings.Repeat(", ?", len(branches)-1)+")", toAny(branches)...)
	}
	if !q.From.IsZero() {
		add("r.start >= ?", ts(q.From))
	}
	if !q.To.IsZero() {
		add("r.start < ?", ts(q.To))
	}
	if q.Direction != "" {
		add("f.direction = ?", q.Direction)
	}
	if q.MinDuration > 0 {
		add("f.duration_ms >= ?", q.MinDuration.Milliseconds())
	}
	if q.MaxDuration > 0 {
		add("f.duration_ms <= ?", q.MaxDuration.Milliseconds())
	}
	if q.IncompleteByUs {
		add("f.lost_capture > ?", 0)
	}
	if q.Class != "" {
		add("r.class = ?", q.Class)
	}
	switch q.Hold {
	case "yes":
		add("r.hold")
	case "no":
		add("NOT r.hold")
	}
	if q.Number != "" {
		if s.Keys == nil {
			return "", nil, errNoKeys
		}
		if ts := s.numberTerms(q.Number); len(ts) > 0 {
			add("EXISTS (SELECT 1 FROM search_terms t WHERE t.term IN (?"+strings.Repeat(", ?", len(ts)-1)+") AND t.appliance = r.appliance AND t.id = r.id AND t.kind = r.kind)", toAny(ts)...)
		}
	}
	for _, t := range []struct{ kind, v string }{{termExt, record.NormalizeNumber(q.Ext)}, {termTag, strings.ToLower(strings.TrimSpace(q.Tag))}} {
		if t.v == "" {
			continue
		}
		if s.Keys == nil {
			return "", nil, errNoKeys
		}
		add("EXISTS (SELECT 1 FROM search_terms t WHERE t.term = ? AND t.appliance = r.appliance AND t.id = r.id AND t.kind = r.kind)", s.Keys.Term(t.kind, t.v))
	}
	return sqlq, args, nil
}

// numberTerms are the blind terms of every form a number may be stored
// under (record.NumberForms, read in access.phone_region): the index
// writes them all for a record's numbers, a lookup asks for any.
func (s *Service) numberTerms(n string) []string {
	if s.Keys == nil {
		return nil
	}
	var out []string
	for _, f := range record.NumberForms(n, s.cfg.PhoneRegion) {
		out = append(out, s.Keys.Term(termNumber, f))
	}
	return out
}

// direction is a record's direction for the index: the box's, unless the
// box could not place the call (no extensions configured there: every
// call "external") and access.extensions can (record.DirectionOf, the
// box's own rule).
func (s *Service) direction(boxSaid string, p *record.Personal) string {
	if len(s.cfg.Extensions) == 0 || (boxSaid != "" && boxSaid != record.DirExternal) || p == nil {
		return boxSaid
	}
	return record.DirectionOf(string(sip.User([]byte(p.From))), string(sip.User([]byte(p.To))), s.cfg.Extensions)
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// describe is how an audit entry names a search: filters in clear except
// the personal ones, which appear as their blind terms' first characters.
func (s *Service) describe(q Search) string {
	var b strings.Builder
	if !q.From.IsZero() || !q.To.IsZero() {
		fmt.Fprintf(&b, "time %s..%s ", q.From.UTC().Format(time.RFC3339), q.To.UTC().Format(time.RFC3339))
	}
	if len(q.Branches) > 0 {
		fmt.Fprintf(&b, "branches %s ", strings.Join(q.Branches, ","))
	}
	if q.Direction != "" {
		fmt.Fprintf(&b, "direction %s ", q.Direction)
	}
	if q.MinDuration > 0 || q.MaxDuration > 0 {
		fmt.Fprintf(&b, "duration %s..%s ", q.MinDuration, q.MaxDuration)
	}
	if q.IncompleteByUs {
		b.WriteString("recorded incomplete by us ")
	}
	if s.Keys != nil {
		if q.Number != "" {
			fmt.Fprintf(&b, "number term %s ", s.Keys.Term(termNumber, record.NormalizeNumber(q.Number))[:12])
		}
		if q.Ext != "" {
			fmt.Fprintf(&b, "extension term %s ", s.Keys.Term(termExt, record.NormalizeNumber(q.Ext))[:12])
		}
		if q.Tag != "" {
			fmt.Fprintf(&b, "tag term %s ", s.Keys.Term(termTag, strings.ToLower(strings.TrimSpace(q.Tag)))[:12])
		}
	}
	return strings.TrimSpace(b.String())
}

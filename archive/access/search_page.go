package access

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spanvault/spanvault/internal/httperr"
)

// The search as people use it: dates are days in the reader's zone and
// "to" includes the day it names; results come a page at a time with the
// total count; branches and classes are picked from what exists in the
// reader's scope.

// pageSize is how many hits one page of the search shows.
const pageSize = 50

// parseSearchIn reads a search's query parameters. A date without a time
// ("2026-12-06") is a day in loc: "from" its first instant, "to" the
// first instant of the next day (the day named is included).
func parseSearchIn(v map[string][]string, loc *time.Location) (Search, error) {
	get := func(k string) string {
		if x := v[k]; len(x) > 0 {
			return strings.TrimSpace(x[0])
		}
		return ""
	}
	var q Search
	var err error
	for _, f := range []struct {
		k    string
		t    *time.Time
		next bool
	}{{"from", &q.From, false}, {"to", &q.To, true}} {
		s := get(f.k)
		if s == "" {
			continue
		}
		if *f.t, err = time.Parse(time.RFC3339, s); err == nil {
			continue
		}
		d, err := time.ParseInLocation("2006-01-02", s, loc)
		if err != nil {
			return q, httperr.BadRequestf("%s: %q is not a date (2026-12-06) or RFC 3339 time", f.k, s)
		}
		if f.next {
			d = d.AddDate(0, 0, 1)
		}
		*f.t = d
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.To.After(q.From) {
		return q, httperr.BadRequestf("to: %q is before from %q", get("to"), get("from"))
	}
	if b := get("branch"); b != "" {
		q.Branches = strings.Split(b, ",")
	}
	q.Direction = get("direction")
	for _, f := range []struct {
		k string
		d *time.Duration
	}{{"min_duration", &q.MinDuration}, {"max_duration", &q.MaxDuration}} {
		if s := get(f.k); s != "" {
			if *f.d, err = time.ParseDuration(s); err != nil {
				// A bare number is seconds, as people type it.
				n, err2 := strconv.Atoi(s)
				if err2 != nil || n < 0 {
					return q, httperr.BadRequestf("%s: %q is not a duration (90s, 5m)", f.k, s)
				}
				*f.d = time.Duration(n) * time.Second
			}
		}
	}
	q.Number, q.Ext, q.Tag = get("number"), get("ext"), get("tag")
	switch get("incomplete") {
	case "", "0", "false", "off":
	default:
		q.IncompleteByUs = true
	}
	if l := get("limit"); l != "" {
		q.Limit, _ = strconv.Atoi(l)
	}
	if o := get("offset"); o != "" {
		if q.Offset, err = strconv.Atoi(o); err != nil || q.Offset < 0 {
			return q, httperr.BadRequestf("offset: %q is not a number", o)
		}
	}
	q.Sort, q.Class, q.Hold, q.Show = get("sort"), get("class"), get("hold"), get("show")
	if _, ok := sortOrders[q.Sort]; !ok {
		return q, httperr.BadRequestf("sort: %q is not one of newest, oldest, longest, shortest, branch, retain_until", q.Sort)
	}
	if q.Hold != "" && q.Hold != "yes" && q.Hold != "no" {
		return q, httperr.BadRequestf("hold: %q is not yes or no", q.Hold)
	}
	if q.Show != "" && q.Show != "erased" && q.Show != "removed" && q.Show != "all" {
		return q, httperr.BadRequestf("show: %q is not erased, removed or all", q.Show)
	}
	return q, nil
}

// readerZone is the zone the reader's times are read and shown in: the
// "tz" cookie (set by app.js from the browser's zone) when it names a
// zone, otherwise access.time_zone, otherwise the machine's.
func (s *Service) readerZone(r *http.Request) *time.Location {
	if r != nil {
		if c, err := r.Cookie("tz"); err == nil && len(c.Value) <= 64 && c.Value != "" && !strings.Contains(c.Value, "..") {
			if v, err := url.QueryUnescape(c.Value); err == nil {
				if loc, err := time.LoadLocation(v); err == nil {
					return loc
				}
			}
		}
	}
	if s.cfg.TimeZone != "" {
		if loc, err := time.LoadLocation(s.cfg.TimeZone); err == nil {
			return loc
		}
	}
	return time.Local
}

// pickers: the branches and classes the reader may pick, cached briefly
// (classes are read with one index seek each, but pages are frequent).
type pickers struct {
	mu   sync.Mutex
	at   time.Time
	apps []string
	cls  map[string][]string // class -> branches holding it
}

func (s *Service) pickers(ctx context.Context) (*pickers, error) {
	p := &s.pick
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.at.IsZero() && s.now().Sub(p.at) < time.Minute && s.now().After(p.at) {
		return p, nil
	}
	rows, err := s.db().QueryContext(ctx, `SELECT name FROM appliances ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("branches: %w", err)
	}
	var apps []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, err
		}
		apps = append(apps, n)
	}
	rows.Close()
	// Distinct classes by a loose index scan (records_class_app): one
	// seek per class, not a pass over every record.
	rows, err = s.db().QueryContext(ctx, `WITH RECURSIVE c(class) AS (SELECT MIN(class) FROM records
		UNION ALL SELECT (SELECT MIN(class) FROM records WHERE class > c.class) FROM c WHERE c.class IS NOT NULL)
		SELECT class FROM c WHERE class IS NOT NULL`)
	if err != nil {
		return nil, fmt.Errorf("classes: %w", err)
	}
	var classes []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			rows.Close()
			return nil, err
		}
		classes = append(classes, c)
	}
	rows.Close()
	cls := map[string][]string{}
	for _, c := range classes {
		for _, a := range apps {
			var one int
			err := s.db().QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM records WHERE class = ? AND appliance = ? LIMIT 1) x`, c, a).Scan(&one)
			if err != nil {
				return nil, fmt.Errorf("classes: %w", err)
			}
			if one > 0 {
				cls[c] = append(cls[c], a)
			}
		}
	}
	p.apps, p.cls, p.at = apps, cls, s.now()
	return p, nil
}

// scopedPickers are the branches and classes within u's scope.
func (s *Service) scopedPickers(ctx context.Context, u *User) (branches, classes []string, err error) {
	p, err := s.pickers(ctx)
	if err != nil {
		return nil, nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, a := range p.apps {
		if u.InScope(a) {
			branches = append(branches, a)
		}
	}
	for c, apps := range p.cls {
		if slices.ContainsFunc(apps, u.InScope) {
			classes = append(classes, c)
		}
	}
	slices.Sort(classes)
	return branches, classes, nil
}

// searchPageOf is the search page for a request: the filters as typed,
// one page of hits, the total and the links to the other pages.
func (s *Service) searchPageOf(r *http.Request, u *User) (searchPage, error) {
	v := r.URL.Query()
	qv := map[string]string{}
	for k, x := range v {
		qv[k] = x[0]
	}
	loc := s.readerZone(r)
	data := searchPage{Q: qv, Zone: loc.String()}
	var err error
	data.Branches, data.Classes, err = s.scopedPickers(r.Context(), u)
	if err != nil {
		return data, err
	}
	q, err := parseSearchIn(v, loc)
	if err != nil {
		return data, err
	}
	q.Limit = pageSize
	data.Hits, data.Total, err = s.searchRecordingsTotal(r.Context(), u, q)
	if err != nil {
		return data, err
	}
	if !q.From.IsZero() {
		data.FromDay = q.From.In(loc).Format("2006-01-02")
	}
	if !q.To.IsZero() {
		// "to" is exclusive inside; the page names the last day included.
		data.ToDay = q.To.In(loc).Add(-time.Nanosecond).Format("2006-01-02")
	}
	data.First, data.Last = q.Offset+1, q.Offset+len(data.Hits)
	page := func(off int) string {
		w := url.Values{}
		for k, x := range v {
			w[k] = x
		}
		w.Set("offset", strconv.Itoa(off))
		return "/search?" + w.Encode()
	}
	if q.Offset > 0 {
		data.Prev = page(max(q.Offset-pageSize, 0))
	}
	if q.Offset+len(data.Hits) < data.Total {
		data.Next = page(q.Offset + pageSize)
	}
	return data, nil
}

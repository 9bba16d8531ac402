package access

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spanvault/spanvault/archive/index"
)

// The auditor's trail browser (GET /audit): the archive's audit trail
// (a branch-scoped auditor's: their branches' events only), newest first, a page at a time, filtered by kind, person, branch, day
// and alerts, and above it, in plain words, whether the trail verifies:
// every entry chained to the one before and, at every position anchored
// in the signed anchor log, equal to what the log holds (archive.CheckTrail).

// trailPageSize is how many entries a page of the browser shows.
const trailPageSize = 50

type trailPage struct {
	pageHead
	Verified bool
	Entries  int
	Problems []string
	FirstBad int64 // the first entry a problem names (0: none)
	Checked  string
	F        trailFilter
	Kinds    []string
	Events   []index.Event
	Total    int
	Page     int
	Pages    int
	Prev     string // query of the previous and next pages ("": none)
	Next     string
}

type trailFilter struct {
	Kind, Actor, Branch, From, To string
	Alerts                        bool
}

var entryRe = regexp.MustCompile(`entry (\d+)`)

func (s *Service) webTrail(w http.ResponseWriter, r *http.Request, ss *session) {
	ctx := r.Context()
	q := r.URL.Query()
	f := trailFilter{Kind: q.Get("kind"), Actor: strings.TrimSpace(q.Get("actor")), Branch: strings.TrimSpace(q.Get("branch")), From: q.Get("from"), To: q.Get("to"), Alerts: q.Get("alerts") == "1"}
	loc := s.zone()
	var from, to time.Time
	p := trailPage{pageHead: pageHead{Title: "Audit trail"}}
	if f.From != "" {
		t, err := time.ParseInLocation("2006-01-02", f.From, loc)
		if err != nil {
			p.Error = "From: give a day as 2006-01-02"
		}
		from = t
	}
	if f.To != "" {
		t, err := time.ParseInLocation("2006-01-02", f.To, loc)
		if err != nil {
			p.Error = "To: give a day as 2006-01-02"
		}
		to = t.AddDate(0, 0, 1) // the day named is included
	}
	n, problems, err := s.A.CheckTrail(ctx)
	if err != nil {
		s.fail(w, r, ss, err)
		return
	}
	es, err := s.A.Index.Events(ctx, "", false)
	if err != nil {
		s.fail(w, r, ss, err)
		return
	}
	es = eventsInScope(ss.user, es) // a scoped auditor: their branches' events (trail_scope.go)
	p.F, p.Entries, p.Problems, p.Verified = f, n, problems, len(problems) == 0
	p.Checked = s.now().In(loc).Format("2006-01-02 15:04:05 MST")
	for _, pr := range problems {
		if m := entryRe.FindStringSubmatch(pr); m != nil {
			id, _ := strconv.ParseInt(m[1], 10, 64)
			if p.FirstBad == 0 || id < p.FirstBad {
				p.FirstBad = id
			}
		}
	}
	var match []index.Event
	for i := len(es) - 1; i >= 0; i-- {
		e := es[i]
		if !slices.Contains(p.Kinds, e.Kind) {
			p.Kinds = append(p.Kinds, e.Kind)
		}
		switch {
		case f.Kind != "" && e.Kind != f.Kind,
			f.Actor != "" && e.Actor != f.Actor,
			f.Branch != "" && e.Appliance != f.Branch,
			f.Alerts && !e.Alert,
			!from.IsZero() && e.Time.Before(from),
			!to.IsZero() && !e.Time.Before(to):
			continue
		}
		match = append(match, e)
	}
	slices.Sort(p.Kinds)
	p.Total = len(match)
	p.Pages = max(1, (p.Total+trailPageSize-1)/trailPageSize)
	p.Page, _ = strconv.Atoi(q.Get("page"))
	p.Page = min(max(p.Page, 1), p.Pages)
	lo := (p.Page - 1) * trailPageSize
	p.Events = match[lo:min(lo+trailPageSize, len(match))]
	for i := range p.Events {
		p.Events[i].Time = p.Events[i].Time.In(loc)
	}
	page := func(n int) string {
		v := url.Values{}
		for k, x := range map[string]string{"kind": f.Kind, "actor": f.Actor, "branch": f.Branch, "from": f.From, "to": f.To} {
			if x != "" {
				v.Set(k, x)
			}
		}
		if f.Alerts {
			v.Set("alerts", "1")
		}
		v.Set("page", strconv.Itoa(n))
		return "?" + v.Encode()
	}
	if p.Page > 1 {
		p.Prev = page(p.Page - 1)
	}
	if p.Page < p.Pages {
		p.Next = page(p.Page + 1)
	}
	verdict := "verifies"
	if !p.Verified {
		verdict = fmt.Sprintf("does not verify (%d problems)", len(problems))
	}
	s.audit(ctx, "audit_read", ss.user.Name, "", fmt.Sprintf("web trail browser, page %d of %d, %d entries match; the trail %s", p.Page, p.Pages, p.Total, verdict), false)
	s.page(w, r, ss, "trail", p)
}

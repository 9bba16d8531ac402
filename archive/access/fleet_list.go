package access

import (
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The fleet page lists a page of boxes at a time (fleetPageSize rows, the
// ones needing attention first as before), filtered by branch (a part of
// the box's name) and by state: at 500 boxes with 30 days of trends the
// whole list was 2.2 MB. The summary (boxes, needing attention) still
// counts every box the reader may see.

// fleetPageSize is how many boxes one page of the fleet lists.
const fleetPageSize = 50

// fleetFilter is what the fleet page is asked for (its query string).
type fleetFilter struct {
	Branch string // a part of the box's name; "" every box
	State  string // "", "attention", "ok", "revoked"
	Page   int    // from 1
}

// fleetStates are the states the fleet page filters by, in the order its
// form offers them ("" is every box), with their labels.
var fleetStates = []fleetState{{"attention", "Needs attention"}, {"ok", "OK"}, {"revoked", "revoked"}}

type fleetState struct{ Value, Label string }

// parseFleetFilter reads the fleet page's query; what it does not know
// is ignored (every box, the first page).
func parseFleetFilter(q url.Values) fleetFilter {
	f := fleetFilter{Branch: strings.TrimSpace(q.Get("branch")), Page: 1}
	if len(f.Branch) > 64 || !utf8.ValidString(f.Branch) {
		f.Branch = ""
	}
	for _, s := range fleetStates {
		if q.Get("state") == s.Value {
			f.State = s.Value
		}
	}
	if p, err := strconv.Atoi(q.Get("page")); err == nil && p > 1 && p < 1e6 {
		f.Page = p
	}
	return f
}

// match reports whether box b is one the filter asks for.
func (f fleetFilter) match(b Box) bool {
	if f.Branch != "" && !strings.Contains(strings.ToLower(b.Name), strings.ToLower(f.Branch)) {
		return false
	}
	switch f.State {
	case "attention":
		return b.Attention && !b.Revoked
	case "ok":
		return !b.Attention && !b.Revoked
	case "revoked":
		return b.Revoked
	}
	return true
}

// url is the fleet page of this filter at page p.
func (f fleetFilter) url(p int) string {
	q := url.Values{}
	if f.Branch != "" {
		q.Set("branch", f.Branch)
	}
	if f.State != "" {
		q.Set("state", f.State)
	}
	if p > 1 {
		q.Set("page", strconv.Itoa(p))
	}
	if len(q) == 0 {
		return "/fleet"
	}
	return "/fleet?" + q.Encode()
}

// fleetPage is the part of a fleet view the page shows: the boxes of
// page f.Page among those matching f (bs sorted already), and the links
// to the pages before and after.
type fleetPage struct {
	Filter      fleetFilter
	States      []fleetState
	Matching    int // boxes matching the filter
	First, Last int // the rows shown, from 1; 0 when none
	Prev, Next  string
}

// pageOf picks the boxes of the filter's page out of bs (in order).
func pageOf(bs []Box, f fleetFilter) ([]Box, fleetPage) {
	var m []Box
	for _, b := range bs {
		if f.match(b) {
			m = append(m, b)
		}
	}
	p := fleetPage{Filter: f, States: fleetStates, Matching: len(m)}
	pages := max((len(m)+fleetPageSize-1)/fleetPageSize, 1)
	p.Filter.Page = min(f.Page, pages)
	from := (p.Filter.Page - 1) * fleetPageSize
	to := min(from+fleetPageSize, len(m))
	if to > from {
		p.First, p.Last = from+1, to
	}
	if p.Filter.Page > 1 {
		p.Prev = p.Filter.url(p.Filter.Page - 1)
	}
	if p.Filter.Page < pages {
		p.Next = p.Filter.url(p.Filter.Page + 1)
	}
	return m[from:to], p
}

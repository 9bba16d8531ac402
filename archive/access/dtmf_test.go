package access_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/capture/synth"
)

// dtmfShown finds what a page or a JSON reply shows of key presses: the
// timeline's DTMF entries (page) or the events and timeline of the JSON.
var pageDTMF = regexp.MustCompile(`</button> dtmf ([^<]*)</li>`)

// TestDTMFMasked (PCI DSS): the key presses of a call (card numbers,
// PINs) show as "a key was pressed, then" on the recording's page, in
// its JSON and in search results for supervisors and compliance; the
// digits are revealed only to a role with that permission, with a
// reason, and the reveal is audited.
func TestDTMFMasked(t *testing.T) {
	e := newEnv(t, nil)
	e.addBox("branch-1", synth.Config{Calls: 1, Duration: 3 * time.Second, Start: e.clock.Now().Add(-time.Hour), DTMF: "4711"})
	id := e.recordings("branch-1")[0]
	sup := e.signIn(e.addUser("sup", access.Supervisor, "branch-1"))
	comp := e.signIn(e.addUser("comp", access.Compliance, "branch-1"))
	for _, c := range []*api{sup, comp} {
		var v access.RecordingView
		if st, body := c.do("GET", "/api/v1/recordings/branch-1/"+id, nil, &v); st != 200 {
			t.Fatal(st, body)
		}
		n := 0
		for _, ev := range v.Timeline {
			if ev.Kind == "dtmf" {
				n++
				if strings.ContainsAny(ev.Detail, "0123456789*#") {
					t.Fatalf("the timeline shows a key press as %q", ev.Detail)
				}
			}
		}
		if n != 4 {
			t.Fatalf("timeline has %d key presses, want 4 (that and when a key was pressed)", n)
		}
		if v.Personal == nil {
			t.Fatal("no sealed metadata for a role that hears the call")
		}
		for _, ev := range v.Personal.Events {
			if ev.Kind == "dtmf" && ev.Digit != "" {
				t.Fatalf("the recording's JSON shows digit %q", ev.Digit)
			}
		}
		_, body := c.get("/api/v1/recordings")
		var hits struct{ Recordings []access.Hit }
		json.Unmarshal(body, &hits)
		for _, h := range hits.Recordings {
			for _, ev := range h.Personal.Events {
				if ev.Kind == "dtmf" && ev.Digit != "" {
					t.Fatalf("search results show digit %q", ev.Digit)
				}
			}
		}
		_, page := c.get("/r/branch-1/" + id)
		ms := pageDTMF.FindAllStringSubmatch(string(page), -1)
		if len(ms) != 4 {
			t.Fatalf("the page shows %d key presses, want 4", len(ms))
		}
		for _, m := range ms {
			if strings.ContainsAny(m[1], "0123456789*#") {
				t.Fatalf("the page shows a key press as %q", m[1])
			}
		}
	}
	// Revealing: not for supervisors; compliance with a reason, audited.
	path := "/api/v1/recordings/branch-1/" + id + "/dtmf"
	if st, _ := sup.do("POST", path, access.RevealDTMF{Reason: "fraud case 12"}, nil); st != http.StatusForbidden {
		t.Fatalf("supervisor reveals digits: %d", st)
	}
	if st, _ := comp.do("POST", path, access.RevealDTMF{}, nil); st != http.StatusBadRequest {
		t.Fatalf("reveal without a reason: %d", st)
	}
	var rv access.RevealedDTMF
	if st, body := comp.do("POST", path, access.RevealDTMF{Reason: "fraud case 12"}, &rv); st != 200 {
		t.Fatal(st, body)
	}
	digits := ""
	for _, k := range rv.Keys {
		digits += k.Digit
	}
	if digits != "4711" {
		t.Fatalf("revealed %q, want 4711", digits)
	}
	if e.events("dtmf_revealed", "comp", "fraud case 12") != 1 {
		t.Fatal("the reveal is not audited with its reason")
	}
	if e.events("denied", "sup", "dtmf") != 1 {
		t.Fatal("the supervisor's refused reveal is not audited")
	}
	// On the web: the recording's page offers the reveal to compliance,
	// with a reason.
	wc := e.httpClient()
	webSignIn(t, e, wc, e.addUser("comp2", access.Compliance, "branch-1"))
	resp, err := wc.Get(e.web + "/r/branch-1/" + id)
	if err != nil {
		t.Fatal(err)
	}
	page := readAll(resp)
	form := between(page, `action="/web/dtmf/branch-1/`+id+`"`, "</form>")
	if form == "" {
		t.Fatalf("no reveal form on the recording's page for compliance")
	}
	resp, err = wc.PostForm(e.web+"/web/dtmf/branch-1/"+id, url.Values{"csrf": {between(form, `name="csrf" value="`, `"`)}, "reason": {"chargeback 881"}})
	if err != nil {
		t.Fatal(err)
	}
	page = readAll(resp)
	if got := strings.Join(regexp.MustCompile(`<td class="digit">([^<]*)</td>`).FindAllString(page, -1), ""); resp.StatusCode != 200 || !strings.Contains(got, ">4<") || strings.Count(got, ">1<") != 2 {
		t.Fatalf("web reveal: %d %s", resp.StatusCode, page)
	}
	if e.events("dtmf_revealed", "comp2", "chargeback 881") != 1 {
		t.Fatal("the web reveal is not audited with its reason")
	}
}

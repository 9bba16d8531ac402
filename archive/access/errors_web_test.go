package access_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/capture/synth"
)

// TestErrorsThatHelp: a browser asking for a page without a session is
// brought back to it after signing in (never to another site); an
// expired link opened in a browser is a page saying what to do, while
// the API client still reads JSON; a failure page has a way back; a
// suspended user's recording page says why instead of offering a
// player that cannot play; a call record's row opens a page.
func TestErrorsThatHelp(t *testing.T) {
	e := newEnv(t, func(c *archive.Config) { c.Access.InsiderMaxPlays = 1 })
	e.addBox("branch-1", synth.Config{Calls: 2, Rejected: 1, Duration: 5 * time.Second, Start: e.clock.Now().Add(-time.Hour)})
	recs := e.recordings("branch-1")
	comp := e.addUser("carl", access.Compliance, "branch-1")

	// Session expiry: back to the page asked for.
	c := e.httpClient()
	resp, err := c.Get(e.web + "/search?from=2026-12-01&number=%2B49305550002")
	if err != nil {
		t.Fatal(err)
	}
	readAll(resp)
	// (The number is left out: a redirect to someone not signed in holds
	// no personal data.)
	if loc := resp.Header.Get("Location"); loc != "/signin?next="+url.QueryEscape("/search?from=2026-12-01") {
		t.Errorf("a page without a session sends to %q, want the sign-in with next=", loc)
	}
	webSignIn(t, e, c, comp) // sets the password first
	for next, want := range map[string]string{"/search?tag=complaint": "/search?tag=complaint", "//evil.example/x": "/", "https://evil.example/": "/", "/\\evil.example": "/"} {
		c := e.httpClient()
		e.clock.Add(31 * time.Second)
		resp, err := c.PostForm(e.web+"/signin", url.Values{"name": {comp.name}, "password": {comp.password}, "totp": {e.code(comp)}, "next": {next}})
		if err != nil {
			t.Fatal(err)
		}
		readAll(resp)
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != want {
			t.Errorf("sign-in with next=%q: %d to %q, want %q", next, resp.StatusCode, loc, want)
		}
	}

	// An expired link: a page for a browser, JSON for the CRM's client.
	crm := e.signIn(e.addUser("crm-bot", access.CRM, "branch-1"))
	var l access.Link
	if st, body := crm.do("POST", "/api/v1/links", access.MintLink{Recording: recs[0], TTL: "1m"}, &l); st != 200 {
		t.Fatalf("mint: %d %s", st, body)
	}
	e.clock.Add(2 * time.Minute)
	anon := &api{e: e, http: e.httpClient()}
	resp2, body := anon.get(l.URL, "Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	page := string(body)
	if resp2.StatusCode != http.StatusForbidden || !strings.HasPrefix(resp2.Header.Get("Content-Type"), "text/html") || !strings.Contains(page, "get a new link") || !strings.Contains(page, `href="/"`) {
		t.Errorf("expired link in a browser: %d %s, want an HTML page saying what to do:\n%s", resp2.StatusCode, resp2.Header.Get("Content-Type"), page)
	}
	resp2, body = anon.get(l.URL, "Accept", "application/json")
	if resp2.StatusCode != http.StatusForbidden || !strings.Contains(string(body), `"error"`) {
		t.Errorf("expired link for an API client: %d %s", resp2.StatusCode, body)
	}

	// A failure page says what to do and has a way back.
	resp, err = c.Get(e.web + "/r/branch-1/00000000000000000000000000")
	if err != nil {
		t.Fatal(err)
	}
	page = readAll(resp)
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(page, `id="hint"`) || !strings.Contains(page, `id="home"`) {
		t.Errorf("unknown recording's page: %d, want a hint and a way back:\n%s", resp.StatusCode, between(page, "<main", "</main>"))
	}

	// A call record's row opens a page that exists.
	resp, _ = c.Get(e.web + "/search")
	page = readAll(resp)
	cdr := between(page, `class="rec cdr" href="`, `"`)
	if cdr == "" {
		t.Errorf("the search lists no call record:\n%s", between(page, `id="results"`, "</table>"))
	} else if resp, _ = c.Get(e.web + cdr); resp.StatusCode != 200 || !strings.Contains(readAll(resp), `id="cdr"`) {
		t.Errorf("call record row %s opens %d", cdr, resp.StatusCode)
	}

	// Suspended: the second recording played within the window suspends.
	api := e.signIn(comp)
	api.get("/api/v1/recordings/branch-1/" + recs[0] + "/audio")
	if resp, _ := api.get("/api/v1/recordings/branch-1/" + recs[1] + "/audio"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("second play: %d, want the suspension", resp.StatusCode)
	}
	resp, _ = c.Get(e.web + "/r/branch-1/" + recs[0])
	page = readAll(resp)
	if !strings.Contains(page, "recordings played") || !strings.Contains(page, "suspended until it is reviewed") || strings.Contains(page, "<audio") {
		t.Errorf("suspended user's recording page: want the reason and no player:\n%s", between(page, "<main", "</main>"))
	}
}

// TestLanguageSwitch: the switch sets the lang cookie and returns to the
// page (never elsewhere); the pages then speak German.
func TestLanguageSwitch(t *testing.T) {
	e := newEnv(t, nil)
	c := e.httpClient()
	for next, want := range map[string]string{"/signin?next=%2Fsearch": "/signin?next=%2Fsearch", "//evil.example": "/"} {
		resp, err := c.Get(e.web + "/lang?to=de&next=" + url.QueryEscape(next))
		if err != nil {
			t.Fatal(err)
		}
		readAll(resp)
		if loc := resp.Header.Get("Location"); loc != want && !(want == "/signin?next=%2Fsearch" && loc == "/signin?next=/search") {
			t.Errorf("switch with next=%q goes to %q, want %q", next, loc, want)
		}
	}
	resp, _ := c.Get(e.web + "/signin")
	if page := readAll(resp); !strings.Contains(page, ">Anmelden</button>") || !strings.Contains(page, `lang="de"`) {
		t.Errorf("after switching to German the sign-in page reads:\n%s", between(page, "<main", "</main>"))
	}
}

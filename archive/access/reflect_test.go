package access_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/capture/synth"
)

// TestPagesReflectNoFreeText: a link a phisher sends (/inbox?error=...)
// does not put their words on the archive's own pages; only the known
// message keys show a (fixed) message.
func TestPagesReflectNoFreeText(t *testing.T) {
	e := newEnv(t, nil)
	c := e.httpClient()
	webSignIn(t, e, c, e.addUser("ada", access.Admin))
	bait := "Your account is locked: call +49 30 1234567 and give your TOTP code"
	for _, p := range []string{"/inbox", "/requests", "/links/manage"} {
		resp, err := c.Get(e.web + p + "?error=" + url.QueryEscape(bait))
		if err != nil {
			t.Fatal(err)
		}
		if page := readAll(resp); strings.Contains(page, "give your TOTP code") {
			t.Errorf("%s?error= shows the link's free text: %d\n%s", p, resp.StatusCode, between(page, `id="error"`, "</p>"))
		}
	}
	// A decision on a request decided meanwhile comes back with the key.
	e.addBox("branch-1", synth.Config{Calls: 14, Concurrent: 4, Duration: 2 * time.Second, Start: e.clock.Now().Add(-time.Hour)})
	d1 := e.web1(t, e.addUser("dora", access.DPO))
	d2 := e.web1(t, e.addUser("dieter", access.DPO))
	if st, _, body, _ := d1.post("/web/request", url.Values{"kind": {"bulk_erase"}, "numbers": {number(12)}, "reason": {"Art. 17 request"}}); st != http.StatusSeeOther {
		t.Fatalf("filing: %d %.300s", st, body)
	}
	_, page := d2.get("/requests")
	id := between(page, `action="/web/decide/`, `"`)
	if st, _, _, _ := d2.post("/web/decide/"+id, url.Values{"approve": {"1"}}); st != http.StatusSeeOther {
		t.Fatalf("approve: %d", st)
	}
	st, loc, _, _ := d2.post("/web/decide/"+id, url.Values{"approve": {"1"}})
	if st != http.StatusSeeOther || loc != "/requests?error=decided" {
		t.Fatalf("deciding again: %d to %q, want the key", st, loc)
	}
	if _, page := d2.get(loc); !strings.Contains(between(page, `id="error"`, "</p>"), "decided already") {
		t.Errorf("a known key shows no message: %s", between(page, "<main", "</main>"))
	}
}

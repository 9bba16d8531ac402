package access_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/access"
)

// TestSetupLinkPublicURL (review: setup links use the request's Host):
// without access.public_url an approver's request with Host:
// attacker.example must not hand out a setup link on that host, through
// the page or the API; approving an account is refused (503, naming
// public_url) and the request stays pending, as minting a streaming link
// is (TestLinkPublicURL). (Old code: the link was
// https://attacker.example/setup/..., for the approver to hand the new
// user.)
func TestSetupLinkPublicURL(t *testing.T) {
	e := newEnv(t, func(c *archive.Config) { c.Access.PublicURL = "" })
	a1 := e.web1(t, e.addUser("anna", access.Admin))
	benU := e.addUser("ben", access.Admin)
	a2 := e.web1(t, benU)
	if st, _, body, _ := a1.post("/users/new", url.Values{"name": {"neu"}, "role": {"auditor"}, "reason": {"new hire"}}); st != 200 {
		t.Fatalf("filing: %d %.300s", st, body)
	}
	_, page := a2.get("/requests")
	id := between(page, `<tr id="req-`, `"`)

	// The page, with the attacker's Host.
	form := url.Values{"approve": {"1"}, "csrf": {a2.csrf}}
	req, _ := http.NewRequest("POST", e.web+"/web/decide/"+id, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Host = "attacker.example"
	base, _ := url.Parse(e.web)
	for _, c := range a2.c.Jar.Cookies(base) { // the session reached the archive at its address
		req.AddCookie(c)
	}
	resp, err := a2.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(resp)
	if strings.Contains(body, "attacker.example") || resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "public_url") {
		t.Errorf("approving on the page without access.public_url, Host: attacker.example: %d, setup link %q: %.400s",
			resp.StatusCode, between(body, `<code id="setuplink">`, `<`), between(body, "<main", "</main>"))
	}

	// The API, with the attacker's Host.
	ben := e.signIn(benU)
	req, _ = http.NewRequest("POST", e.web+"/api/v1/requests/"+id+"/approve", nil)
	req.Host = "attacker.example"
	req.Header.Set("Authorization", "Bearer "+ben.token)
	resp, err = ben.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body = readAll(resp)
	if strings.Contains(body, "attacker.example") || resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "public_url") {
		t.Fatalf("approving through the API without access.public_url, Host: attacker.example: %d %s", resp.StatusCode, body)
	}
	if _, page := a2.get("/requests"); !strings.Contains(page, `<tr id="req-`+id+`"`) {
		t.Fatalf("the request is no longer pending: %.600s", between(page, "<main", "</main>"))
	}
}

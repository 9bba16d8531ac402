package access_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive/access"
)

// setUp opens a setup link as the new user would (over HTTPS, no
// session): the page shows the second factor to enrol; the user sets
// their own password and answers a code from it. It answers the user,
// signed in nowhere yet.
func setUp(t *testing.T, e *env, link, name string, role access.Role) *user {
	t.Helper()
	c := e.httpClient()
	resp, err := c.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	page := readAll(resp)
	secret := between(page, `<code id="totpsecret">`, `<`)
	if resp.StatusCode != 200 || secret == "" {
		t.Fatalf("the setup link %s: %d, no second factor to enrol: %.400s", link, resp.StatusCode, page)
	}
	u := &user{name: name, role: role, secret: secret, password: "my very own password " + name, set: true}
	e.clock.Add(31 * time.Second)
	resp, err = c.PostForm(link, url.Values{"password": {u.password}, "password2": {u.password}, "totp": {e.code(u)}})
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(resp)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("setting up %s: %d %.400s", name, resp.StatusCode, body)
	}
	return u
}

// TestApproverGetsNoSecrets: approving a new account (or a reset) hands
// the approver a single-use setup link, never the new user's password or
// second factor: the approver's page and API reply carry neither, the
// approver cannot sign in as the user, the user sets their own password
// and enrols their own second factor through the link, which then works
// no more; a link not used in time expires. (Old code: the approver's
// page showed the one-time password and the otpauth URL with its secret.)
func TestApproverGetsNoSecrets(t *testing.T) {
	e := newEnv(t, nil)
	a1 := e.web1(t, e.addUser("anna", access.Admin))
	benU := e.addUser("ben", access.Admin)
	a2 := e.web1(t, benU)
	if st, _, body, _ := a1.post("/users/new", url.Values{"name": {"neu"}, "role": {"auditor"}, "reason": {"new hire"}}); st != 200 {
		t.Fatalf("filing: %d %.300s", st, body)
	}
	_, page := a2.get("/requests")
	id := between(page, `<tr id="req-`, `"`)
	st, _, body, _ := a2.post("/web/decide/"+id, url.Values{"approve": {"1"}})
	if st != 200 {
		t.Fatalf("approving: %d %.300s", st, body)
	}
	for _, secret := range []string{"otpauth://", `id="onetime"`, `id="totpurl"`, `id="totpqr"`, "secret="} {
		if strings.Contains(body, secret) {
			t.Fatalf("the approver's page carries the new user's secrets (%s): %.600s", secret, between(body, "<main", "</main>"))
		}
	}
	link := between(body, `<code id="setuplink">`, `<`)
	if !strings.HasPrefix(link, e.web+"/setup/") {
		t.Fatalf("the approver's page has no setup link: %.600s", between(body, "<main", "</main>"))
	}
	nu := setUp(t, e, link, "neu", access.Auditor)
	if st, _ := e.web1(t, nu).get("/audit"); st != 200 {
		t.Fatalf("the new user's trail after setting up: %d", st)
	}
	if e.events("account_setup", "neu", "") != 1 {
		t.Fatal("the setup is not audited")
	}
	// Single use.
	if resp, err := e.httpClient().Get(link); err != nil || resp.StatusCode == 200 {
		t.Fatalf("the setup link works a second time: %v %v", resp.StatusCode, err)
	}

	// A reset: the same, through the API; the link expires.
	if st, _, _, _ := a1.post("/web/users/neu/reset", url.Values{"reason": {"lost the phone"}}); st != http.StatusSeeOther {
		t.Fatalf("reset: %d", st)
	}
	_, page = a2.get("/requests")
	rid := between(page, `action="/web/decide/`, `"`)
	var rep map[string]any
	st, raw := e.signIn(benU).do("POST", "/api/v1/requests/"+rid+"/approve", nil, &rep)
	if st != 200 || strings.Contains(raw, "otpauth") || strings.Contains(raw, `"password"`) || rep["setup_link"] == nil {
		t.Fatalf("the API's approval of a reset: %d %s", st, raw)
	}
	old := nu.password
	e.clock.Add(access.SetupLinkTTL + time.Minute)
	if resp, err := e.httpClient().Get(rep["setup_link"].(string)); err != nil || resp.StatusCode == 200 {
		t.Fatalf("an expired setup link still opens: %v", err)
	}
	e.clock.Add(31 * time.Second)
	c := e.httpClient()
	resp, _ := c.PostForm(e.web+"/signin", url.Values{"name": {"neu"}, "password": {old}, "totp": {e.code(nu)}})
	if readAll(resp); resp.StatusCode == http.StatusSeeOther {
		t.Fatal("the old password and second factor still sign in after the reset")
	}
}

// TestSetupLinkWrongCodes: a wrong code keeps the second factor shown
// (the user corrects the code, not their app); five wrong codes kill
// the link, as a guess at the code would.
func TestSetupLinkWrongCodes(t *testing.T) {
	e := newEnv(t, nil)
	a1 := e.signIn(e.addUser("anna", access.Admin))
	a2 := e.signIn(e.addUser("ben", access.Admin))
	e.addUser("carl", access.Auditor)
	var req, done access.Request
	if st, body := a1.do("POST", "/api/v1/users/carl/reset", access.AccountOp{Reason: "new phone"}, &req); st != http.StatusAccepted {
		t.Fatalf("reset: %d %s", st, body)
	}
	if st, body := a2.do("POST", "/api/v1/requests/"+strconv.FormatInt(req.ID, 10)+"/approve", nil, &done); st != 200 || done.SetupLink == "" {
		t.Fatalf("approve: %d %s", st, body)
	}
	c := e.httpClient()
	resp, _ := c.Get(done.SetupLink)
	secret := between(readAll(resp), `<code id="totpsecret">`, `<`)
	for i := range 5 {
		resp, err := c.PostForm(done.SetupLink, url.Values{"password": {"a long password of carl"}, "password2": {"a long password of carl"}, "totp": {"000000"}})
		if err != nil {
			t.Fatal(err)
		}
		page := readAll(resp)
		if i < 4 && (resp.StatusCode != http.StatusUnauthorized || between(page, `<code id="totpsecret">`, `<`) != secret) {
			t.Fatalf("wrong code %d: %d, the factor shown changed: %v", i+1, resp.StatusCode, between(page, `<code id="totpsecret">`, `<`) != secret)
		}
	}
	if resp, _ := c.Get(done.SetupLink); resp.StatusCode == 200 {
		t.Fatal("the setup link still opens after five wrong codes")
	}
}

package access_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/spanvault/spanvault/archive/access"
)

// TestUsersPageAccountActions: an administrator disables, enables and
// unlocks a user and files a reset from the users page itself (issue 20:
// "from the CLI and the web"); the page shows each account's state.
func TestUsersPageAccountActions(t *testing.T) {
	e := newEnv(t, nil)
	admin := e.addUser("ada", access.Admin)
	u := e.addUser("carl", access.Auditor)
	s := e.signIn(u)
	c := e.httpClient()
	webSignIn(t, e, c, admin)
	page := func() string {
		t.Helper()
		resp, err := c.Get(e.web + "/users")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("/users: %d", resp.StatusCode)
		}
		return string(b)
	}
	row := func(p, name string) string {
		i := strings.Index(p, "<td>"+name+"</td>")
		if i < 0 {
			t.Fatalf("no row for %s on the users page", name)
		}
		j := strings.Index(p[i:], "</tr>")
		return p[i : i+j]
	}
	post := func(op string, extra url.Values) {
		t.Helper()
		p := page()
		v := url.Values{"csrf": {between(p, `name="csrf" value="`, `"`)}}
		for k, vs := range extra {
			v[k] = vs
		}
		if !strings.Contains(row(p, "carl"), `action="/web/users/carl/`+op+`"`) {
			t.Fatalf("the users page offers no %s for carl: %s", op, row(p, "carl"))
		}
		resp, err := c.PostForm(e.web+"/web/users/carl/"+op, v)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s from the page: %d", op, resp.StatusCode)
		}
	}
	if r := row(page(), "carl"); !strings.Contains(r, "active") {
		t.Fatalf("carl's row does not say the account is active: %s", r)
	}
	post("disable", url.Values{"reason": {"left the company"}})
	if r := row(page(), "carl"); !strings.Contains(r, "disabled: ") || !strings.Contains(r, "left the company") {
		t.Fatalf("after disabling, carl's row: %s", r)
	}
	if st, _ := s.do("GET", "/api/v1/audit", nil, nil); st != http.StatusUnauthorized {
		t.Fatalf("the disabled user's session still works: %d", st)
	}
	post("enable", nil)
	if r := row(page(), "carl"); strings.Contains(r, "disabled") {
		t.Fatalf("after enabling, carl's row: %s", r)
	}
	// Locked for new sources after five failures: the page says so and
	// offers the unlock.
	if _, err := e.a.Index.DB().ExecContext(t.Context(), `UPDATE users SET failed = 5 WHERE name = 'carl'`); err != nil {
		t.Fatal(err)
	}
	if r := row(page(), "carl"); !strings.Contains(r, "5 failed sign-ins") {
		t.Fatalf("a locked account is not shown as locked: %s", r)
	}
	post("unlock", nil)
	if r := row(page(), "carl"); !strings.Contains(r, "active") {
		t.Fatalf("after unlocking, carl's row: %s", r)
	}
	post("reset", url.Values{"reason": {"lost the phone"}})
	var out struct{ Requests []access.Request }
	a := e.signIn(admin)
	if st, body := a.do("GET", "/api/v1/requests", nil, &out); st != 200 {
		t.Fatalf("requests: %d %s", st, body)
	}
	found := false
	for _, r := range out.Requests {
		found = found || (r.Kind == access.ReqReset && r.Target.User == "carl" && r.State == access.StatePending)
	}
	if !found {
		t.Fatalf("the page's reset filed no four-eyes request: %+v", out.Requests)
	}
}

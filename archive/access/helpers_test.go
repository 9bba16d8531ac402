package access_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/sync/wire"
)

func indexQuery(box string) index.Query { return index.Query{Appliance: box, Kind: wire.KindRecording} }

func indexOne(box, id string) index.Query {
	return index.Query{Appliance: box, ID: id, Kind: wire.KindRecording}
}

func readAll(resp *http.Response) string {
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// webSignIn signs in through the HTML form (and sets the password the
// page asks for), leaving the session cookie in c's jar.
func webSignIn(t *testing.T, e *env, c *http.Client, u *user) string {
	t.Helper()
	e.clock.Add(31 * time.Second)
	resp, err := c.PostForm(e.web+"/signin", url.Values{"name": {u.name}, "password": {u.password}, "totp": {e.code(u)}})
	if err != nil {
		t.Fatal(err)
	}
	readAll(resp)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("web sign-in: %d", resp.StatusCode)
	}
	if resp.Header.Get("Location") == "/password" {
		resp, _ = c.Get(e.web + "/password")
		page := readAll(resp)
		csrf := between(page, `name="csrf" value="`, `"`)
		e.clock.Add(31 * time.Second) // a fresh code
		current := u.password
		u.password, u.set = "a long new password "+u.name, true
		resp, err = c.PostForm(e.web+"/password", url.Values{"csrf": {csrf}, "current": {current}, "totp": {e.code(u)}, "password": {u.password}})
		if err != nil {
			t.Fatal(err)
		}
		readAll(resp)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("set password: %d", resp.StatusCode)
		}
	}
	resp, _ = c.Get(e.web + "/requests")
	return readAll(resp)
}

func between(s, a, b string) string {
	i := strings.Index(s, a)
	if i < 0 {
		return ""
	}
	s = s[i+len(a):]
	j := strings.Index(s, b)
	if j < 0 {
		return ""
	}
	return s[:j]
}

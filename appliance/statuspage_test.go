package appliance

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// inlineCode finds what a CSP without 'unsafe-inline' refuses: a script
// element with a body, a style element, a style attribute, an event
// handler attribute.
var inlineCode = regexp.MustCompile(`(?is)<script[^>]*>\s*[^<\s]|<style[\s>]|\sstyle\s*=|\son[a-z]+\s*=`)

// TestStatusPageCSP: the status page, fetched from the box's real status
// listener, carries a CSP that allows no inline script or style and has
// none; its style sheet is served from the box.
func TestStatusPageCSP(t *testing.T) {
	a := testAppliance(t, "")
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	get := func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, page := get("/")
	if resp.StatusCode != 200 || !strings.Contains(page, `id="overall"`) {
		t.Fatalf("status page: %d %.200s", resp.StatusCode, page)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "style-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "script-src"} {
		if strings.Contains(csp, bad) {
			t.Errorf("CSP %q allows %q", csp, bad)
		}
	}
	if m := inlineCode.FindString(page); m != "" {
		t.Errorf("the page has inline code the CSP refuses: %q", m)
	}
	if !strings.Contains(page, `<link rel="stylesheet" href="/status.css">`) {
		t.Error("the page does not link its style sheet")
	}
	resp, css := get("/status.css")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") || !strings.Contains(css, ".box{") {
		t.Errorf("style sheet: %d %q %.80q", resp.StatusCode, resp.Header.Get("Content-Type"), css)
	}
}

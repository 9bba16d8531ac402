package access_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/capture/synth"
)

// inlineCode finds what a CSP without 'unsafe-inline' refuses: a script
// element with a body, a style element, a style attribute, an event
// handler attribute.
var inlineCode = regexp.MustCompile(`(?is)<script[^>]*>\s*[^<\s]|<style[\s>]|\sstyle\s*=|\son[a-z]+\s*=`)

// cspPages are the pages the CSP tests open, signed in as a supervisor of
// branch-1 (the sign-in page before).
func cspPages(e *env) []string {
	rec := e.recordings("branch-1")[0]
	return []string{"/search", "/search?direction=inbound", "/r/branch-1/" + rec, "/requests", "/r/branch-1/no-such-recording", "/password"}
}

// TestPagesCSP: every page, fetched over the archive's real HTTPS by a
// signed-in user, carries a CSP that allows scripts and styles only from
// the archive's files, and has no inline script or style for it to refuse.
func TestPagesCSP(t *testing.T) {
	e := newEnv(t, nil)
	e.addBox("branch-1", synth.Config{Calls: 1, Concurrent: 1, Duration: 5 * time.Second, Start: e.clock.Now().Add(-time.Hour)})
	c := e.httpClient()
	check := func(path string, resp *http.Response, page string) {
		t.Helper()
		csp := resp.Header.Get("Content-Security-Policy")
		if csp != access.CSP {
			t.Errorf("%s: CSP %q, want %q", path, csp, access.CSP)
		}
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-") {
			t.Errorf("%s: CSP %q allows unsafe sources", path, csp)
		}
		if !strings.Contains(page, "</html>") {
			t.Errorf("%s: %d, not a whole page: %.300s", path, resp.StatusCode, page)
		}
		if m := inlineCode.FindString(page); m != "" {
			t.Errorf("%s: inline code the CSP refuses: %q", path, m)
		}
	}
	resp, err := c.Get(e.web + "/signin")
	if err != nil {
		t.Fatal(err)
	}
	check("/signin", resp, readAll(resp))
	webSignIn(t, e, c, e.addUser("sup", access.Supervisor, "branch-1"))
	for _, p := range cspPages(e) {
		resp, err := c.Get(e.web + p)
		if err != nil {
			t.Fatal(err)
		}
		check(p, resp, readAll(resp))
	}
}

// TestPagesCSPBrowser: chromium opens the pages under their CSP and
// reports no violation in the console.
func TestPagesCSPBrowser(t *testing.T) {
	e := newEnv(t, nil)
	e.addBox("branch-1", synth.Config{Calls: 1, Concurrent: 1, Duration: 5 * time.Second, Start: e.clock.Now().Add(-time.Hour)})
	ctx := browser(t)
	// The console of the pages to come, bounded: the range below ends at
	// the marker logged last, or with an error at the bound.
	cctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	messages := chromedp.Console(cctx)
	do(t, ctx, "sign-in page", chromedp.Navigate(e.web+"/signin"), chromedp.WaitVisible(chromedp.ID("name")))
	signInBrowser(t, ctx, e, e.addUser("sup", access.Supervisor, "branch-1"))
	for _, p := range cspPages(e) {
		do(t, ctx, p, chromedp.Navigate(e.web+p), chromedp.WaitReady(chromedp.CSS("main")))
		waitJS(t, ctx, `document.readyState == "complete"`, p+" loaded")
	}
	// The style sheet applied (not refused): the header is a flex row.
	if d := js[string](t, ctx, `getComputedStyle(document.querySelector("header")).display`); d != "flex" {
		t.Errorf("header display %q: the style sheet did not apply", d)
	}
	const done = "spanvault-csp-check-done"
	js[bool](t, ctx, `console.log("`+done+`"); true`)
	for m, err := range messages {
		if err != nil {
			t.Fatalf("console: %v", err)
		}
		if strings.Contains(m.Text, done) {
			break
		}
		if strings.Contains(m.Text, "Content Security Policy") || strings.Contains(m.Text, "Refused to") {
			t.Errorf("CSP violation in the console: %s (%s)", m.Text, m.URL)
		}
	}
}

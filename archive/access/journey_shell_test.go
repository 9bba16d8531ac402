package access_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/capture/synth"
)

// say is the text a journey expects in its language.
func say(en, de string) string {
	if strings.HasPrefix(screenLang(), "de") {
		return de
	}
	return en
}

// text is the visible text of the element with the given id ("" when
// there is none).
func text(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	return js[string](t, ctx, fmt.Sprintf(`(document.getElementById(%q) || {textContent: ""}).textContent`, id))
}

// searchFor submits the search form with the given fields set and waits
// for the answer's page.
func searchFor(t *testing.T, ctx context.Context, e *env, fields map[string]string) {
	t.Helper()
	do(t, ctx, "open the search", chromedp.Navigate(e.web+"/search"), chromedp.WaitVisible(chromedp.ID("searchform")))
	for id, v := range fields {
		js[bool](t, ctx, fmt.Sprintf(`document.getElementById(%q).value = %q; true`, id, v))
	}
	do(t, ctx, "search", chromedp.Click(chromedp.ID("search")))
	waitJS(t, ctx, `location.search.length > 1 && document.readyState == "complete" && !!document.getElementById("count")`, "the search's answer")
}

// TestJourneyComplianceOfficer: a compliance officer finds a call by its
// number however it is written, searches one day (that day included),
// pages through the results with their total, and narrows them by
// class; in English or German (SPANVAULT_SCREEN_LANG).
func TestJourneyComplianceOfficer(t *testing.T) {
	e := newEnv(t, func(c *archive.Config) {
		c.Access.PhoneRegion = "DE"
		c.Access.Extensions = []string{"2xxxx"}
	})
	start := e.clock.Now().Add(-3 * time.Hour).Truncate(time.Hour)
	e.addBox("branch-1", synth.Config{Calls: 60, Concurrent: 10, Duration: 2 * time.Second, Start: start})
	e.addBox("branch-9", synth.Config{Calls: 1, Duration: 2 * time.Second, Start: start})
	ctx := browser(t)
	comp := e.addUser("clara", access.Compliance, "branch-1")
	signInBrowser(t, ctx, e, comp)
	shot(t, ctx, "compliance-start")

	// Call 2 is from +49 30 5550002, written three ways.
	for i, n := range []string{"030 5550002", "0049 30 5550002", "+49 30 5550002"} {
		searchFor(t, ctx, e, map[string]string{"number": n})
		if i == 0 {
			shot(t, ctx, "compliance-search-number")
		}
		if got := js[int](t, ctx, `document.querySelectorAll("#results a.rec").length`); got != 1 {
			t.Errorf("number %q: %d results, want 1 (%s)", n, got, text(t, ctx, "count"))
		}
		if c := text(t, ctx, "count"); !strings.Contains(c, say("Found 1 recordings", "1 Aufnahmen gefunden")) {
			t.Errorf("number %q: the count reads %q", n, c)
		}
	}
	// The branch picker offers the officer's branch only.
	if opts := js[string](t, ctx, `Array.from(document.querySelectorAll("#branch option")).map(o => o.value).join(",")`); opts != ",branch-1" {
		t.Errorf("branch picker offers %q, want the officer's branch only", opts)
	}

	// One day, that day included; 60 calls make two pages.
	day := start.Format("2006-01-02")
	searchFor(t, ctx, e, map[string]string{"from": day, "to": day})
	shot(t, ctx, "compliance-search-day")
	c := text(t, ctx, "count")
	if !strings.Contains(c, say("Found 60 recordings, showing 1 to 50", "60 Aufnahmen gefunden, angezeigt 1 bis 50")) ||
		!strings.Contains(c, say("from "+day+" to "+day+" inclusive", "vom "+day+" bis einschließlich "+day)) {
		t.Errorf("a day's search reads %q", c)
	}
	do(t, ctx, "next page", chromedp.Click(chromedp.ID("next")))
	waitJS(t, ctx, `location.search.includes("offset=50") && document.readyState == "complete" && !!document.getElementById("count")`, "the second page")
	shot(t, ctx, "compliance-search-page2")
	if c := text(t, ctx, "count"); !strings.Contains(c, say("showing 51 to 60", "angezeigt 51 bis 60")) {
		t.Errorf("the second page reads %q", c)
	}
	if n := js[int](t, ctx, `document.querySelectorAll("#results a.rec").length`); n != 10 {
		t.Errorf("the second page lists %d, want 10", n)
	}

	// A filter: calls 0-9 are of class mifid, picked from what exists.
	searchFor(t, ctx, e, map[string]string{"class": "mifid", "direction": "inbound"})
	shot(t, ctx, "compliance-search-filter")
	if c := text(t, ctx, "count"); !strings.Contains(c, say("Found 10 recordings", "10 Aufnahmen gefunden")) {
		t.Errorf("class mifid, inbound: %q, want 10", c)
	}
	if d := js[string](t, ctx, `document.querySelector("#results tbody tr td:nth-child(3)").textContent`); d != say("inbound", "eingehend") {
		t.Errorf("direction shown as %q", d)
	}
	// On a tablet the form and the table still fit the width.
	do(t, ctx, "tablet", chromedp.EmulateViewport(820, 1180))
	if w := js[int](t, ctx, `document.documentElement.scrollWidth`); w > 820 {
		t.Errorf("on a tablet the page is %d px wide, more than the screen", w)
	}
	shot(t, ctx, "compliance-search-tablet")
	do(t, ctx, "laptop", chromedp.EmulateReset())
	// The times carry their zone.
	if z := text(t, ctx, "zone"); z == "" {
		t.Error("the page does not say which zone its times are in")
	}
}

// TestJourneyLinkUser: a CRM user makes a streaming link and opens it in
// the browser, where it plays; opened again after it expired, the link
// is a page that says what happened and what to do.
func TestJourneyLinkUser(t *testing.T) {
	e := newEnv(t, nil)
	e.addBox("branch-1", synth.Config{Calls: 1, Duration: 20 * time.Second, Start: e.clock.Now().Add(-time.Hour)})
	id := e.recordings("branch-1")[0]
	ctx := browser(t)
	crm := e.addUser("crm-user", access.CRM, "branch-1")
	signInBrowser(t, ctx, e, crm)
	do(t, ctx, "make a link",
		chromedp.Navigate(e.web+"/links"),
		chromedp.WaitVisible(chromedp.ID("linkrec")),
		chromedp.SendKeys(chromedp.ID("linkrec"), id),
		chromedp.Clear(chromedp.ID("linkttl")),
		chromedp.SendKeys(chromedp.ID("linkttl"), "5m"),
		chromedp.Click(chromedp.ID("mint")),
		chromedp.WaitVisible(chromedp.ID("link")))
	shot(t, ctx, "link-made")
	href := js[string](t, ctx, `document.getElementById("link").href`)

	// Opened, it plays (the browser's own player for the audio).
	do(t, ctx, "open the link", chromedp.Navigate(href))
	waitJS(t, ctx, `(function(){var v = document.querySelector("video,audio"); return !!v && v.duration > 19 && v.duration < 21})()`, "the link's audio to load")
	js[bool](t, ctx, `document.querySelector("video,audio").play(); true`)
	waitJS(t, ctx, `document.querySelector("video,audio").currentTime > 0.3`, "the link to play")
	shot(t, ctx, "link-plays")

	// Expired: a page, not raw JSON.
	e.clock.Add(6 * time.Minute)
	do(t, ctx, "open the expired link", chromedp.Navigate(href), chromedp.WaitVisible(chromedp.ID("message")))
	shot(t, ctx, "link-expired")
	if h := text(t, ctx, "hint"); !strings.Contains(h, say("get a new link", "neuen Link")) {
		t.Errorf("the expired link's page says %q, want what to do", h)
	}
	if m := text(t, ctx, "message"); !strings.Contains(m, say("not valid", "nicht gültig")) {
		t.Errorf("the expired link's page says %q, want what happened", m)
	}
	if n := js[int](t, ctx, `document.querySelectorAll("a#home").length`); n != 1 {
		t.Error("the expired link's page has no way back")
	}
}

// TestBrowserSuspendedPlayerSaysWhy: a player whose audio is refused (the
// user was suspended by this very play) says why, instead of a greyed
// 0:00.
func TestBrowserSuspendedPlayerSaysWhy(t *testing.T) {
	e := newEnv(t, func(c *archive.Config) { c.Access.InsiderMaxPlays = 1 })
	e.addBox("branch-1", synth.Config{Calls: 2, Duration: 10 * time.Second, Start: e.clock.Now().Add(-time.Hour)})
	recs := e.recordings("branch-1")
	ctx := browser(t)
	comp := e.addUser("cora", access.Compliance, "branch-1")
	signInBrowser(t, ctx, e, comp)
	for i, id := range recs {
		do(t, ctx, "open a recording", chromedp.Navigate(e.web+"/r/branch-1/"+id), chromedp.WaitVisible(chromedp.ID("player")))
		js[bool](t, ctx, `document.getElementById("player").play().catch(function(){}); true`)
		if i == 0 {
			waitJS(t, ctx, `document.getElementById("player").currentTime > 0.3`, "the first recording to play")
		}
	}
	waitJS(t, ctx, `!document.getElementById("playerror").hidden`, "the player to say why it cannot play")
	shot(t, ctx, "compliance-suspended-player")
	if m := text(t, ctx, "playerror"); !strings.Contains(m, "suspended pending review") || !strings.Contains(m, say("cannot be played", "kann nicht abgespielt")) {
		t.Errorf("the player says %q", m)
	}
}

package access_test

import (
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/synth"
)

// eventfulBox syncs one 40-second call with key presses (4711), consent
// at 4 s, the recording paused from 20 s to 26 s and a tag at 30 s.
func eventfulBox(e *env, name string) {
	start := e.clock.Now().Add(-2 * time.Hour)
	var consented, paused, resumed, tagged bool
	e.addBox(name, synth.Config{Calls: 1, Duration: 40 * time.Second, Start: start, DTMF: "4711"}, boxOpt{
		each: func(tr *calls.Tracker, at time.Time) {
			tr.Calls(func(c *calls.Call) {
				if c.Answer.IsZero() {
					return
				}
				switch d := at.Sub(c.Answer); {
				case !consented && d > 4*time.Second:
					tr.SetConsent(c, at)
					consented = true
				case !paused && d > 20*time.Second:
					tr.SetPaused(c, true, at)
					paused = true
				case paused && !resumed && d > 26*time.Second:
					tr.SetPaused(c, false, at)
					resumed = true
				case !tagged && d > 30*time.Second:
					tr.Tag(c, "Complaint", at)
					tagged = true
				}
			})
		}})
	if !consented || !paused || !resumed || !tagged {
		e.t.Fatalf("the call's events were not all made: consent %v pause %v resume %v tag %v", consented, paused, resumed, tagged)
	}
}

// audioFetched: the page asked for the recording's audio (the browser's
// resource timing, which lists every request the page made).
const audioFetched = `performance.getEntriesByType("resource").some(r => r.name.includes("/audio"))`

// TestJourneySupervisor: a supervisor finds a call by number, opens it
// from the results and sees its level picture with the events on the
// time axis (key presses masked, consent, pause and resume, the pause as
// a gap in the levels); a click on the picture and the arrow keys move
// the player's position without fetching audio; only play does, and that
// play is audited once.
func TestJourneySupervisor(t *testing.T) {
	e := newEnv(t, nil)
	eventfulBox(e, "branch-1")
	ctx := browser(t)
	sup := e.addUser("sam", access.Supervisor, "branch-1")
	signInBrowser(t, ctx, e, sup)

	do(t, ctx, "search", chromedp.Navigate(e.web+"/search"), chromedp.WaitVisible(chromedp.ID("number")),
		chromedp.SendKeys(chromedp.ID("number"), number(0)), chromedp.Click(chromedp.ID("search")))
	waitJS(t, ctx, `location.search.includes("number=") && document.readyState == "complete"`, "the search's answer")
	do(t, ctx, "results", chromedp.WaitVisible(chromedp.CSS("a.rec")))
	shot(t, ctx, "supervisor-search")

	do(t, ctx, "open the recording", chromedp.Click(chromedp.CSS("a.rec")), chromedp.WaitVisible(chromedp.ID("picture")))
	waitJS(t, ctx, `document.readyState == "complete"`, "the recording page")
	kinds := js[[]string](t, ctx, `[...document.querySelectorAll("#picture g.marker")].map(g => g.dataset.kind)`)
	count := func(k string) int {
		n := 0
		for _, x := range kinds {
			if x == k {
				n++
			}
		}
		return n
	}
	for k, want := range map[string]int{"dtmf": 4, "consent": 1, "pause": 1, "resume": 1, "tag": 1} {
		if got := count(k); got != want {
			t.Errorf("the picture marks %d %s events, want %d (markers: %q)", got, k, want, kinds)
		}
	}
	// A key press is marked, its digit is not.
	for _, title := range js[[]string](t, ctx, `[...document.querySelectorAll("#picture g.marker[data-kind=dtmf] title")].map(t => t.textContent)`) {
		if rest := regexp.MustCompile(`^[0-9.]+ s `).ReplaceAllString(title, ""); strings.ContainsAny(rest, "0123456789*#") {
			t.Errorf("a key press on the picture reads %q", title)
		}
	}
	if n := js[int](t, ctx, `document.querySelectorAll("#picture rect.band-pause").length`); n != 1 {
		t.Errorf("%d pause bands on the picture, want 1", n)
	}
	// The levels: both channels drawn, and the pause a gap (no media).
	svg := js[string](t, ctx, `fetch(document.getElementById("levels").getAttribute("href")).then(r => r.text())`, chromedp.EvalAwaitPromise)
	for _, want := range []string{`class="l"`, `class="r"`, `class="gap"`} {
		if !strings.Contains(svg, want) {
			t.Errorf("the level picture has no %s: %.300s", want, svg)
		}
	}
	waitJS(t, ctx, `(() => { const r = document.getElementById("levels").getBoundingClientRect(); return r.width > 500 })()`, "the level picture to lay out")
	shot(t, ctx, "supervisor-recording")

	span := js[float64](t, ctx, `parseFloat(document.getElementById("picture").dataset.span)`)
	// A click in the middle of the picture, scrolled into view first (a
	// click outside the viewport reaches nothing).
	rect := js[[]float64](t, ctx, `(() => { const p = document.getElementById("picture"); p.scrollIntoView({block: "center"}); const r = p.getBoundingClientRect(); return [r.left, r.top, r.width, r.height] })()`)
	do(t, ctx, "click the picture", chromedp.MouseClickXY(rect[0]+rect[2]/2, rect[1]+rect[3]/4))
	at := js[float64](t, ctx, `document.getElementById("player").currentTime`)
	if math.Abs(at-span/2) > 1 {
		t.Fatalf("a click in the middle of a %.1f s picture moved the player to %.2f s", span, at)
	}
	// The keyboard: the picture has the focus; the right arrow is 5 s on.
	do(t, ctx, "arrow right", chromedp.KeyEvent(kb.ArrowRight))
	if got := js[float64](t, ctx, `document.getElementById("player").currentTime`); math.Abs(got-(at+5)) > 0.01 {
		t.Fatalf("the right arrow moved the player from %.2f s to %.2f s, want %.2f s", at, got, at+5)
	}
	if now := js[string](t, ctx, `document.getElementById("picture").getAttribute("aria-valuenow")`); now == "0" {
		t.Error("the picture's aria-valuenow did not follow the position")
	}
	// A marker: the consent's time.
	do(t, ctx, "click the consent marker", chromedp.Click(chromedp.CSS(`#picture g.marker[data-kind=consent] rect`)))
	consentAt := js[float64](t, ctx, `parseFloat(document.querySelector("#picture g.marker[data-kind=consent]").dataset.t)`)
	if got := js[float64](t, ctx, `document.getElementById("player").currentTime`); math.Abs(got-consentAt) > 0.01 {
		t.Fatalf("clicking the consent marker (%.2f s) moved the player to %.2f s", consentAt, got)
	}
	if js[bool](t, ctx, audioFetched) || e.events("play", "sam", "") != 0 {
		t.Fatal("seeking on the picture fetched audio before play")
	}
	shot(t, ctx, "supervisor-recording-seeked")

	// Play: now the audio comes, from where the picture put the player.
	js[bool](t, ctx, `document.getElementById("player").play(); true`)
	waitJS(t, ctx, `document.getElementById("player").currentTime > `+ftoa(consentAt+0.3), "audio to play from the position")
	if !js[bool](t, ctx, audioFetched) {
		t.Fatal("playing fetched no audio")
	}
	if n := e.events("play", "sam", ""); n == 0 {
		t.Fatal("the play was not audited")
	}
	if n := e.events("insider_suspended", "sam", ""); n != 0 {
		t.Fatal("the supervisor was suspended")
	}
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', 3, 64) }

// TestRecordingHistory: who accessed a recording, as the auditor and the
// DPO see it on its page: the supervisor's view and play, in order; the
// auditor sees no personal data (no numbers, no events, no picture, no
// player), the DPO sees the events but no player; the supervisor sees
// no history.
func TestRecordingHistory(t *testing.T) {
	e := newEnv(t, nil)
	eventfulBox(e, "branch-1")
	id := e.recordings("branch-1")[0]
	sup := e.signIn(e.addUser("sam", access.Supervisor, "branch-1"))
	if st, body := sup.do("GET", "/api/v1/recordings/branch-1/"+id, nil, nil); st != 200 {
		t.Fatalf("view: %d %s", st, body)
	}
	resp, _ := sup.get(e.web + "/api/v1/recordings/branch-1/" + id + "/audio")
	if resp.StatusCode != 200 {
		t.Fatalf("play: %d", resp.StatusCode)
	}
	ctx := browser(t)
	page := "/r/branch-1/" + id
	type row struct{ Who, Action string }
	history := func() []row {
		t.Helper()
		return js[[]row](t, ctx, `[...document.querySelectorAll("#history tr")].slice(1).map(tr => ({Who: tr.querySelector(".who").textContent, Action: tr.querySelector(".what").dataset.action}))`)
	}
	present := func(sel string) bool {
		return js[bool](t, ctx, `document.querySelector("`+sel+`") != null`)
	}

	aud := e.addUser("audrey", access.Auditor, "branch-1")
	signInBrowser(t, ctx, e, aud)
	do(t, ctx, "auditor opens", chromedp.Navigate(e.web+page), chromedp.WaitVisible(chromedp.ID("history")))
	h := history()
	if !slices.Contains(h, row{"sam", "view"}) || !slices.Contains(h, row{"sam", "play"}) {
		t.Fatalf("the auditor's history of %s: %+v, want sam's view and play", id, h)
	}
	if slices.Index(h, row{"sam", "view"}) > slices.Index(h, row{"sam", "play"}) {
		t.Errorf("the history is not in order: %+v", h)
	}
	for _, sel := range []string{"#picture", "#player", "#from", "#timeline"} {
		if present(sel) {
			t.Errorf("the auditor sees %s on a recording's page", sel)
		}
	}
	if !present("#retention") || !present("#hold") {
		t.Error("the auditor's page lacks retention or hold")
	}
	shot(t, ctx, "auditor-recording-history")
	signOutBrowser(t, ctx)

	dpo := e.addUser("dora", access.DPO, "branch-1")
	signInBrowser(t, ctx, e, dpo)
	do(t, ctx, "dpo opens", chromedp.Navigate(e.web+page), chromedp.WaitVisible(chromedp.ID("history")))
	h = history()
	if !slices.Contains(h, row{"audrey", "view"}) || !slices.Contains(h, row{"sam", "play"}) {
		t.Fatalf("the DPO's history of %s: %+v, want the auditor's view and sam's play", id, h)
	}
	if !present("#picture") || present("#player") {
		t.Errorf("the DPO's page: picture %v (want true), player %v (want false)", present("#picture"), present("#player"))
	}
	shot(t, ctx, "dpo-recording-history")
	signOutBrowser(t, ctx)

	signInBrowser(t, ctx, e, e.addUser("sid", access.Supervisor, "branch-1"))
	do(t, ctx, "supervisor opens", chromedp.Navigate(e.web+page), chromedp.WaitVisible(chromedp.ID("picture")))
	if present("#history") {
		t.Error("a supervisor sees the access history")
	}
}

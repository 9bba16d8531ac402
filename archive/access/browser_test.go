package access_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/capture/synth"
)

// browser starts Debian's chromium, headless, through chromedp. The
// archive's certificate is issued by its own CA, which this throwaway
// profile does not trust, so certificate errors are ignored here (the API
// tests pin the CA instead).
func browser(t testing.TB) context.Context {
	t.Helper()
	bin := ""
	for _, c := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(c); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		if os.Getenv("SPANVAULT_REQUIRE_TOOLS") != "" {
			t.Fatal("chromium not installed: run scripts/install-deps.sh")
		}
		t.Skip("chromium not installed")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("lang", screenLang()), chromedp.Flag("accept-lang", screenLang()),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1200, 1000))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// do runs browser steps with a bound on each batch.
func do(t testing.TB, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(c, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// js evaluates an expression in the page.
func js[T any](t testing.TB, ctx context.Context, expr string, opts ...chromedp.EvaluateOption) T {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	v, err := chromedp.Run(c, chromedp.Evaluate[T](expr, opts...))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// shot keeps a screenshot under build/artifacts, and under
// $SPANVAULT_SCREENS (make screens) as NAME-LANG.png, LANG being the
// journey's language ($SPANVAULT_SCREEN_LANG, default en).
func shot(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	png, err := chromedp.Run(c, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dir, _ := filepath.Abs(filepath.Join("..", "..", "build", "artifacts"))
	os.MkdirAll(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, "archive-"+name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
	if screens := os.Getenv("SPANVAULT_SCREENS"); screens != "" {
		if err := os.MkdirAll(screens, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(screens, name+"-"+screenLang()+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// screenLang is the language journeys run in: the browser's
// Accept-Language (browser), "en" unless $SPANVAULT_SCREEN_LANG says.
func screenLang() string {
	if l := os.Getenv("SPANVAULT_SCREEN_LANG"); l != "" {
		return l
	}
	return "en"
}

func location(t testing.TB, ctx context.Context) string {
	return js[string](t, ctx, `location.pathname`)
}

// signInBrowser fills the sign-in form (with the code of a fresh TOTP
// step) and, at first sign-in, sets a password of the user's own.
func signInBrowser(t testing.TB, ctx context.Context, e *env, u *user) {
	t.Helper()
	e.clock.Add(31 * time.Second)
	do(t, ctx, "sign in "+u.name,
		chromedp.Navigate(e.web+"/signin"),
		chromedp.WaitVisible(chromedp.ID("name")),
		chromedp.SendKeys(chromedp.ID("name"), u.name),
		chromedp.SendKeys(chromedp.ID("password"), u.password),
		chromedp.SendKeys(chromedp.ID("totp"), e.code(u)),
		chromedp.Click(chromedp.ID("go")),
		chromedp.WaitVisible(chromedp.CSS("header span")))
	if location(t, ctx) == "/password" {
		e.clock.Add(31 * time.Second) // a fresh code
		current := u.password
		u.password, u.set = "my own long password "+u.name, true
		do(t, ctx, "set password",
			chromedp.SendKeys(chromedp.ID("currentpassword"), current),
			chromedp.SendKeys(chromedp.ID("pwtotp"), e.code(u)),
			chromedp.SendKeys(chromedp.ID("newpassword"), u.password),
			chromedp.Click(chromedp.ID("setpw")),
			chromedp.WaitNotPresent(chromedp.ID("newpassword")))
	}
	if l := location(t, ctx); l == "/signin" || l == "/password" {
		t.Fatalf("%s still at %s after signing in", u.name, l)
	}
}

func signOutBrowser(t *testing.T, ctx context.Context) {
	t.Helper()
	do(t, ctx, "sign out", chromedp.Click(chromedp.CSS("header form button")), chromedp.WaitVisible(chromedp.ID("signin")))
}

// waitJS polls a JavaScript condition. While the page is being replaced
// an evaluation can fail (its document is gone): that counts as not yet.
func waitJS(t testing.TB, ctx context.Context, cond, what string) {
	t.Helper()
	var last error
	for i := 0; i < 600; i++ {
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		ok, err := chromedp.Run(c, chromedp.Evaluate[bool](cond))
		cancel()
		if err == nil && ok {
			return
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s (last error: %v)", what, last)
}

// TestBrowser: in a real browser, on recordings a box synced in this
// test: sign in with TOTP, search by number, play a recording (audio
// arrives, seeking asks for a range), mint a streaming link and use it,
// and request and approve an erasure as two users.
func TestBrowser(t *testing.T) {
	e := newEnv(t, nil)
	start := e.clock.Now().Add(-2 * time.Hour)
	// A ten-minute call: long enough that the player must ask for a
	// range to seek near its end.
	e.addBox("branch-1", synth.Config{Calls: 1, Duration: 10 * time.Minute, Start: start, DTMF: "47"})
	ctx := browser(t)
	comp := e.addUser("clara", access.Compliance, "branch-1")
	signInBrowser(t, ctx, e, comp)

	// Search by number.
	do(t, ctx, "search",
		chromedp.Navigate(e.web+"/search"),
		chromedp.SendKeys(chromedp.ID("number"), number(0)),
		chromedp.Click(chromedp.ID("search")))
	// The page before the search lists recordings too: wait for the
	// answer's page, not for a result (a screenshot taken while the
	// browser swaps documents fails with "Not attached to an active page").
	waitJS(t, ctx, `location.search.includes("number=") && document.readyState == "complete"`, "the search's answer")
	do(t, ctx, "search results", chromedp.WaitVisible(chromedp.CSS("a.rec")))
	shot(t, ctx, "search")
	if n := js[int](t, ctx, `document.querySelectorAll("a.rec").length`); n != 1 {
		t.Fatalf("search by number found %d recordings, want 1", n)
	}
	// Play, then seek to minute 9.
	do(t, ctx, "open the recording", chromedp.Click(chromedp.CSS("a.rec")), chromedp.WaitVisible(chromedp.ID("player")))
	js[bool](t, ctx, `document.getElementById("player").play(); true`)
	waitJS(t, ctx, `document.getElementById("player").currentTime > 0.5`, "audio to play")
	if d := js[float64](t, ctx, `document.getElementById("player").duration`); d < 599 || d > 601 {
		t.Fatalf("the player sees %.1f s, want 600", d)
	}
	js[bool](t, ctx, `document.getElementById("player").currentTime = 540; true`)
	waitJS(t, ctx, `document.getElementById("player").currentTime > 540.5`, "audio to play after seeking")
	shot(t, ctx, "recording")
	// The call's events are on the timeline; a click seeks there.
	if n := js[int](t, ctx, `document.querySelectorAll("#timeline [data-at]").length`); n < 2 {
		t.Fatalf("timeline shows %d events, want the two DTMF digits at least", n)
	}
	at := js[float64](t, ctx, `parseFloat(document.querySelector("#timeline [data-at]").getAttribute("data-at"))`)
	do(t, ctx, "click the timeline", chromedp.Click(chromedp.CSS("#timeline [data-at]")))
	waitJS(t, ctx, fmt.Sprintf(`Math.abs(document.getElementById("player").currentTime - %f) < 5`, at), "the player to seek to the event")
	// The seek asked the server for a range from near minute 9 (past
	// the first 10 MB of the 19 MB file).
	ranged := 0
	es, _ := e.a.Index.Events(t.Context(), "play", false)
	for _, ev := range es {
		if i := strings.Index(ev.Detail, `range "bytes=`); i >= 0 {
			v := ev.Detail[i+len(`range "bytes=`):]
			n, _ := strconv.ParseInt(v[:strings.IndexAny(v, "-\"")], 10, 64)
			if n > 10<<20 {
				ranged++
			}
		}
	}
	if ranged == 0 {
		t.Fatalf("seeking to minute 9 asked for no range past 10 MB; plays: %v", es)
	}
	id := js[string](t, ctx, `location.pathname.split("/").pop()`)
	signOutBrowser(t, ctx)

	// The CRM mints a streaming link and it plays without a session.
	crm := e.addUser("crm-bot", access.CRM, "branch-1")
	signInBrowser(t, ctx, e, crm)
	do(t, ctx, "mint a link",
		chromedp.Navigate(e.web+"/links"),
		chromedp.SendKeys(chromedp.ID("linkrec"), id),
		chromedp.Click(chromedp.ID("mint")),
		chromedp.WaitVisible(chromedp.ID("link")))
	href := js[string](t, ctx, `document.getElementById("link").href`)
	shot(t, ctx, "link")
	signOutBrowser(t, ctx)
	got := js[string](t, ctx, fmt.Sprintf(`fetch(%q, {credentials: "omit"}).then(r => r.arrayBuffer().then(b => r.status + " " + r.headers.get("content-type") + " " + b.byteLength))`, href), chromedp.EvalAwaitPromise)
	if !strings.HasPrefix(got, "200 audio/wav ") || strings.HasSuffix(got, " 0") {
		t.Fatalf("streaming link in the browser: %s", got)
	}

	// Erasure: one DPO requests it on the recording's page, another approves.
	e.addBox("branch-2", synth.Config{Calls: 14, Concurrent: 4, Duration: 2 * time.Second, Start: start})
	victim := ""
	for _, r := range e.recordings("branch-2") {
		rs, _ := e.a.Index.Records(t.Context(), indexOne("branch-2", r))
		if rs[0].Class == "default" {
			victim = r
			break
		}
	}
	d1, d2 := e.addUser("dora", access.DPO), e.addUser("dieter", access.DPO)
	signInBrowser(t, ctx, e, d1)
	do(t, ctx, "request the erasure",
		chromedp.Navigate(e.web+"/r/branch-2/"+victim),
		chromedp.SendKeys(chromedp.ID("erasereason"), "Art. 17 request by the customer"),
		chromedp.Click(chromedp.ID("erase")),
		chromedp.WaitVisible(chromedp.ID("requests")))
	if n := js[int](t, ctx, `document.querySelectorAll("button.approve").length`); n != 0 {
		t.Fatal("the requester is offered to approve their own request")
	}
	signOutBrowser(t, ctx)
	signInBrowser(t, ctx, e, d2)
	do(t, ctx, "approve",
		chromedp.Navigate(e.web+"/requests"),
		chromedp.Click(chromedp.CSS("button.approve")),
		chromedp.WaitNotPresent(chromedp.CSS("button.approve")))
	shot(t, ctx, "requests")
	if state := js[string](t, ctx, `document.querySelector("#requests td.state").textContent`); state != access.StateApplying {
		t.Fatalf("erasure request is %q after approval", state)
	}
	e.sync(e.boxes["branch-2"])
	e.sync(e.boxes["branch-2"])
	if en, err := e.boxes["branch-2"].v.Get(victim); err == nil && en.State != "erased" {
		t.Fatalf("the box still holds %s (%s)", victim, en.State)
	}
	if e.events("request_approved", "dieter", "erase by dora") != 1 {
		t.Fatal("approval not audited with both names")
	}
}

// TestBrowserViewIsNotPlay: in a real browser, a compliance officer with a
// limit of one recording opens two recordings' pages without being
// suspended (the audio is fetched only when played), plays one, and is
// suspended only when playing the second; the key presses on the
// timeline show that and when a key was pressed, never which.
func TestBrowserViewIsNotPlay(t *testing.T) {
	e := newEnv(t, func(c *archive.Config) { c.Access.InsiderMaxPlays = 1 })
	e.addBox("branch-1", synth.Config{Calls: 2, Duration: 20 * time.Second, Start: e.clock.Now().Add(-time.Hour), DTMF: "4711"})
	recs := e.recordings("branch-1")
	ctx := browser(t)
	comp := e.addUser("carla", access.Compliance, "branch-1")
	signInBrowser(t, ctx, e, comp)
	// The player has settled (fetching nothing more) once it is idle.
	settled := `document.readyState == "complete" && document.getElementById("player").networkState == HTMLMediaElement.NETWORK_IDLE`
	for _, id := range recs {
		do(t, ctx, "open "+id, chromedp.Navigate(e.web+"/r/branch-1/"+id), chromedp.WaitVisible(chromedp.ID("player")))
		waitJS(t, ctx, settled, "the player to settle")
	}
	if n := e.events("insider_suspended", "carla", ""); n != 0 {
		t.Fatal("opening two recordings' pages suspended a user with a limit of one recording")
	}
	if n := e.events("play", "carla", ""); n != 0 {
		t.Fatalf("opening the pages fetched audio %d times", n)
	}
	keys := js[[]string](t, ctx, `[...document.querySelectorAll("#timeline li")].map(li => li.textContent).filter(s => s.includes("dtmf"))`)
	if len(keys) != 4 {
		t.Fatalf("the timeline shows %d key presses, want 4: %q", len(keys), keys)
	}
	for _, k := range keys {
		if strings.ContainsAny(k[strings.Index(k, "dtmf"):], "0123456789*#") {
			t.Fatalf("the timeline shows a key press as %q", k)
		}
	}
	shot(t, ctx, "dtmf-masked")
	// Play the first: allowed, not suspended.
	do(t, ctx, "open the first", chromedp.Navigate(e.web+"/r/branch-1/"+recs[0]), chromedp.WaitVisible(chromedp.ID("player")))
	js[bool](t, ctx, `document.getElementById("player").play(); true`)
	waitJS(t, ctx, `document.getElementById("player").currentTime > 0.5`, "audio to play")
	if n := e.events("insider_suspended", "carla", ""); n != 0 {
		t.Fatal("suspended after playing one recording (limit 1)")
	}
	// Play the second: refused, and now suspended.
	do(t, ctx, "open the second", chromedp.Navigate(e.web+"/r/branch-1/"+recs[1]), chromedp.WaitVisible(chromedp.ID("player")))
	js[bool](t, ctx, `document.getElementById("player").play().catch(() => {}); true`)
	waitJS(t, ctx, `document.getElementById("player").error != null`, "the second play to be refused")
	if n := e.events("insider_suspended", "carla", ""); n != 1 {
		t.Fatalf("%d suspensions after playing a second recording (limit 1), want 1", n)
	}
}

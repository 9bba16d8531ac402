package access_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/capture/synth"
)

func waitAlert(t *testing.T, e *env, kind string) access.Alert {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case a := <-e.alerts:
			if a.Kind == kind {
				return a
			}
		case <-deadline:
			t.Fatalf("the DPO's webhook received no %s alert", kind)
		}
	}
}

// TestInsiderSuspended: a supervisor who plays 200 recordings within ten
// minutes is suspended from playback once past the limit (100), the DPO's
// webhook gets the alert, and only a second person lifts it.
func TestInsiderSuspended(t *testing.T) {
	e := newEnv(t, nil)
	e.addBox("branch-1", synth.Config{Calls: 200, Concurrent: 20, Duration: time.Second, Start: e.clock.Now().Add(-2 * time.Hour)})
	recs := e.recordings("branch-1")
	if len(recs) != 200 {
		t.Fatalf("%d recordings", len(recs))
	}
	seller := e.addUser("seller", access.Supervisor, "branch-1")
	c := e.signIn(seller)
	played, refused := 0, 0
	for i, id := range recs {
		e.clock.Add(2 * time.Second) // 200 plays in 400 s
		resp, _ := c.get("/api/v1/recordings/branch-1/" + id + "/audio")
		switch resp.StatusCode {
		case 200:
			if refused > 0 {
				t.Fatalf("play %d allowed after the suspension", i+1)
			}
			played++
		case http.StatusForbidden:
			refused++
		default:
			t.Fatalf("play %d: %d", i+1, resp.StatusCode)
		}
	}
	if played != 100 || refused != 100 {
		t.Fatalf("played %d, refused %d; want the 100th recording to be the last (limit 100 per 10 min, checked before serving)", played, refused)
	}
	a := waitAlert(t, e, "insider_suspended")
	if a.Actor != "seller" {
		t.Fatalf("alert names %q", a.Actor)
	}
	// The user cannot lift it, neither can an auditor; a DPO can.
	if st, _ := c.do("POST", "/api/v1/users/seller/clear", nil, nil); st != http.StatusForbidden {
		t.Fatalf("supervisor lifting own suspension: %d", st)
	}
	dpo := e.signIn(e.addUser("dpo", access.DPO))
	if st, body := dpo.do("POST", "/api/v1/users/seller/clear", nil, nil); st != http.StatusNoContent {
		t.Fatal(st, body)
	}
	if resp, _ := c.get("/api/v1/recordings/branch-1/" + recs[0] + "/audio"); resp.StatusCode != 200 {
		t.Fatalf("play after the suspension was lifted: %d", resp.StatusCode)
	}
	if e.events("insider_cleared", "dpo", "seller") != 1 {
		t.Fatal("lifting not audited")
	}
}

// TestInsiderOutsideHours: the first play outside the configured working
// hours is refused, not served: the user is suspended and the DPO
// alerted before a byte of audio leaves.
func TestInsiderOutsideHours(t *testing.T) {
	e := newEnv(t, func(c *archive.Config) {
		h := time.Now().UTC().Add(6 * time.Hour).Hour() // a window that excludes now (the test clock starts at it)
		c.Access.WorkingHours = fmt.Sprintf("%02d:00-%02d:59", h, h)
	})
	e.addBox("branch-1", synth.Config{Calls: 1, Duration: time.Second, Start: e.clock.Now().Add(-time.Hour)})
	c := e.signIn(e.addUser("night", access.Compliance, "branch-1"))
	id := e.recordings("branch-1")[0]
	if resp, _ := c.get("/api/v1/recordings/branch-1/" + id + "/audio"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("first play outside working hours: %d, want 403 before serving", resp.StatusCode)
	}
	waitAlert(t, e, "insider_suspended")
	if resp, _ := c.get("/api/v1/recordings/branch-1/" + id + "/audio"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("play after an out-of-hours suspension: %d", resp.StatusCode)
	}
	if n := e.events("play", "night", ""); n != 0 {
		t.Fatalf("%d plays logged outside working hours", n)
	}
}

// moveTo moves the test clock forward to the next moment at hh:mm UTC on
// one of days (any day when none is given).
func moveTo(e *env, hh, mm int, days ...time.Weekday) {
	now := e.clock.Now().UTC()
	t := time.Date(now.Year(), now.Month(), now.Day(), hh, mm, 0, 0, time.UTC)
	for !t.After(now) || (len(days) > 0 && !slices.Contains(days, t.Weekday())) {
		t = t.Add(24 * time.Hour)
	}
	e.clock.Add(t.Sub(now))
}

// TestInsiderHoursOverMidnight: a night shift (22:00-06:00) hears calls
// at 23:30 and at 03:00 without being suspended, and not at noon.
func TestInsiderHoursOverMidnight(t *testing.T) {
	e := newEnv(t, func(c *archive.Config) { c.Access.WorkingHours = "22:00-06:00" })
	e.addBox("branch-1", synth.Config{Calls: 3, Duration: time.Second, Start: e.clock.Now().Add(-time.Hour)})
	recs := e.recordings("branch-1")
	u := e.addUser("nightshift", access.Supervisor, "branch-1")
	for i, at := range [][2]int{{23, 30}, {3, 0}} {
		moveTo(e, at[0], at[1])
		c := e.signIn(u)
		if resp, _ := c.get("/api/v1/recordings/branch-1/" + recs[i] + "/audio"); resp.StatusCode != 200 {
			t.Fatalf("play at %02d:%02d within 22:00-06:00: %d", at[0], at[1], resp.StatusCode)
		}
	}
	if n := e.events("insider_suspended", "nightshift", ""); n != 0 {
		t.Fatalf("the night shift was suspended %d times within its hours", n)
	}
	moveTo(e, 12, 0)
	c := e.signIn(u)
	if resp, _ := c.get("/api/v1/recordings/branch-1/" + recs[2] + "/audio"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("play at noon, outside 22:00-06:00: %d", resp.StatusCode)
	}
	waitAlert(t, e, "insider_suspended")
}

// TestInsiderDefaultHours: an archive whose configuration leaves working
// hours empty gets 07:00-20:00, Monday to Saturday: a play on a Sunday
// is refused and suspends.
func TestInsiderDefaultHours(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "archive")
	if err := archive.Init(dir, archive.InitOptions{Name: "defaults", Listen: "127.0.0.1:0"}); err != nil {
		t.Fatal(err)
	}
	a, err := archive.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	wh := a.Config.Access.WorkingHours
	a.Close()
	if wh == "" {
		t.Fatal("working_hours is empty by default: any hour is a working hour")
	}
	e := newEnv(t, func(c *archive.Config) { c.Access.WorkingHours, c.Access.WorkingDays = "", "" })
	e.addBox("branch-1", synth.Config{Calls: 2, Duration: time.Second, Start: e.clock.Now().Add(-time.Hour)})
	recs := e.recordings("branch-1")
	u := e.addUser("weekday", access.Supervisor, "branch-1")
	moveTo(e, 12, 0, time.Wednesday)
	c := e.signIn(u)
	if resp, _ := c.get("/api/v1/recordings/branch-1/" + recs[0] + "/audio"); resp.StatusCode != 200 {
		t.Fatalf("play on a Wednesday at noon: %d", resp.StatusCode)
	}
	moveTo(e, 12, 0, time.Sunday)
	c = e.signIn(u)
	if resp, _ := c.get("/api/v1/recordings/branch-1/" + recs[1] + "/audio"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("play on a Sunday with the default working days: %d", resp.StatusCode)
	}
}

// TestInsiderParallelPlays: with a limit of one recording, three plays of
// three recordings sent at once serve exactly one.
func TestInsiderParallelPlays(t *testing.T) {
	e := newEnv(t, func(c *archive.Config) { c.Access.InsiderMaxPlays = 1 })
	e.addBox("branch-1", synth.Config{Calls: 3, Duration: time.Second, Start: e.clock.Now().Add(-time.Hour)})
	recs := e.recordings("branch-1")
	c := e.signIn(e.addUser("racer", access.Supervisor, "branch-1"))
	var wg sync.WaitGroup
	start := make(chan struct{})
	codes := make([]int, len(recs))
	for i, id := range recs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", e.web+"/api/v1/recordings/branch-1/"+id+"/audio", nil)
			req.Header.Set("Authorization", "Bearer "+c.token)
			<-start
			resp, err := c.http.Do(req)
			if err != nil {
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes[i] = resp.StatusCode
		}()
	}
	close(start)
	wg.Wait()
	served := 0
	for _, c := range codes {
		if c == 200 {
			served++
		}
	}
	if served != 1 {
		t.Fatalf("limit 1, three plays at once: %v (%d served)", codes, served)
	}
}

// TestInsiderSuspendedSeesNothing: a suspended user keeps no personal
// data: no search, no recording page (numbers, digits), no audio, no new
// export request; the requests they filed before stay listed.
func TestInsiderSuspendedSeesNothing(t *testing.T) {
	e := newEnv(t, func(c *archive.Config) { c.Access.InsiderMaxPlays = 1 })
	e.addBox("branch-1", synth.Config{Calls: 2, Duration: 3 * time.Second, Start: e.clock.Now().Add(-time.Hour), DTMF: "4711"})
	recs := e.recordings("branch-1")
	u := e.addUser("greedy", access.Compliance, "branch-1")
	c := e.signIn(u)
	if st, body := c.do("POST", "/api/v1/requests", access.RequestInput{Kind: "export", Appliance: "branch-1", Recording: recs[0], Reason: "case 9"}, nil); st != http.StatusAccepted {
		t.Fatalf("filing a request before the suspension: %d %s", st, body)
	}
	c.get("/api/v1/recordings/branch-1/" + recs[0] + "/audio")
	c.get("/api/v1/recordings/branch-1/" + recs[1] + "/audio")
	waitAlert(t, e, "insider_suspended")
	denied := e.events("denied", "greedy", "")
	if st, body := c.do("POST", "/api/v1/requests", access.RequestInput{Kind: "export", Appliance: "branch-1", Recording: recs[1], Reason: "case 10"}, nil); st != http.StatusForbidden || !strings.Contains(body, "suspended") {
		t.Fatalf("a suspended user files an export request: %d %s, want 403 suspended pending review", st, body)
	}
	if e.events("denied", "greedy", "") == denied {
		t.Fatal("the suspended user's export request was refused without an audit entry")
	}
	for _, p := range []string{
		"/api/v1/recordings",
		"/api/v1/recordings?number=" + url.QueryEscape(number(0)),
		"/api/v1/recordings/branch-1/" + recs[0],
		"/search?number=" + url.QueryEscape(number(0)),
		"/r/branch-1/" + recs[0],
		"/r/branch-1/" + recs[0] + "/levels.svg", // the call's talk pattern
	} {
		resp, body := c.get(p)
		if resp.StatusCode != http.StatusForbidden || strings.Contains(string(body), "+4930") || strings.Contains(string(body), `"digit"`) {
			t.Fatalf("suspended user GET %s: %d %.300s", p, resp.StatusCode, body)
		}
	}
	resp, body := c.get("/api/v1/requests")
	if resp.StatusCode != 200 || !strings.Contains(string(body), "case 9") || strings.Contains(string(body), "case 10") {
		t.Fatalf("a suspended user's own requests (case 9 filed before the suspension, case 10 refused): %d %s", resp.StatusCode, body)
	}
}

// TestViewIsNotPlay: opening a recording's page (or its JSON) is a view,
// not a play: the audio element fetches nothing until played, a user
// with a limit of one recording opens three pages unsuspended, and the
// Art. 15 report tells views, plays and streams apart.
func TestViewIsNotPlay(t *testing.T) {
	e := newEnv(t, func(c *archive.Config) { c.Access.InsiderMaxPlays = 1 })
	e.addBox("branch-1", synth.Config{Calls: 3, Duration: time.Second, Start: e.clock.Now().Add(-time.Hour)})
	recs := e.recordings("branch-1")
	c := e.signIn(e.addUser("viewer", access.Compliance, "branch-1"))
	for _, id := range recs {
		resp, page := c.get("/r/branch-1/" + id)
		if resp.StatusCode != 200 {
			t.Fatalf("recording page: %d", resp.StatusCode)
		}
		audio := between(string(page), "<audio", ">")
		if !strings.Contains(audio, `preload="none"`) {
			t.Fatalf("the page's audio element loads before it is played: <audio%s>", audio)
		}
		if resp, _ := c.get("/api/v1/recordings/branch-1/" + id); resp.StatusCode != 200 {
			t.Fatalf("recording JSON: %d", resp.StatusCode)
		}
	}
	// The one play the limit allows.
	played := recs[0]
	if resp, _ := c.get("/api/v1/recordings/branch-1/"+played+"/audio", "Range", "bytes=0-"); resp.StatusCode/100 != 2 {
		t.Fatalf("play after viewing three pages: %d", resp.StatusCode)
	}
	if n := e.events("insider_suspended", "viewer", ""); n != 0 {
		t.Fatal("suspended for viewing pages")
	}
	dpo := e.signIn(e.addUser("dpo", access.DPO))
	var rep access.SubjectReport
	// Calls 0..2 are from numbers 0..2.
	if st, body := dpo.do("POST", "/api/v1/subject", access.SubjectQuery{Numbers: []string{number(0), number(1), number(2)}}, &rep); st != 200 {
		t.Fatal(st, body)
	}
	for _, it := range rep.Items {
		if it.Kind != "recording" {
			continue
		}
		var acts []string
		for _, a := range it.Accesses {
			if a.Who == "viewer" {
				acts = append(acts, a.Action)
			}
		}
		want := "view"
		if it.ID == played {
			want = "view play"
		}
		if got := strings.Join(slices.Compact(acts), " "); got != want {
			t.Fatalf("Art. 15 report: viewer's accesses of %s: %q, want %q", it.ID, got, want)
		}
	}
	_, html := dpo.do("POST", "/api/v1/subject", access.SubjectQuery{Numbers: []string{number(0), number(1), number(2)}, Format: "html"}, nil)
	if n := strings.Count(html, "played"); n != 1 || !strings.Contains(html, "viewed") {
		t.Fatalf("the Art. 15 report says %q %d times (want once) and viewed %v:\n%s", "played", n, strings.Contains(html, "viewed"), html)
	}
}

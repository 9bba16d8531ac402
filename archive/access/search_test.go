package access_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/sync/wire"
)

// TestSearchFilters: time range, branch, direction, duration, agent
// extension, tag and number, each narrowing to what it should.
func TestSearchFilters(t *testing.T) {
	e := newEnv(t, nil)
	start := e.clock.Now().Add(-3 * time.Hour).Truncate(time.Hour)
	tagged := false
	// Extensions 2xxxx are the branch's: calls to them are inbound.
	e.addBox("branch-1", synth.Config{Calls: 6, Concurrent: 1, Duration: 20 * time.Second, Start: start}, boxOpt{
		tracker: calls.Config{Extensions: []string{"2xxxx"}},
		each: func(tr *calls.Tracker, at time.Time) {
			if !tagged && at.After(start.Add(5*time.Second)) {
				tr.Calls(func(c *calls.Call) { tr.Tag(c, "Complaint", at); tagged = true })
			}
		}})
	e.addBox("branch-2", synth.Config{Calls: 3, Concurrent: 3, Duration: 5 * time.Second, Start: start.Add(time.Hour)})
	c := e.signIn(e.addUser("comp", access.Compliance, "branch-1", "branch-2"))
	count := func(q string) int {
		t.Helper()
		var out struct {
			Recordings []access.Hit `json:"recordings"`
		}
		if st, body := c.do("GET", "/api/v1/recordings?"+q, nil, &out); st != 200 {
			t.Fatalf("%s: %d %s", q, st, body)
		}
		return len(out.Recordings)
	}
	for _, tc := range []struct {
		q    string
		want int
	}{
		{"", 9},
		{"branch=branch-2", 3},
		{"direction=inbound", 6},
		{"direction=external", 3},
		{"min_duration=15s", 6},
		{"max_duration=10s", 3},
		{"from=" + url.QueryEscape(start.Add(30*time.Minute).Format(time.RFC3339)), 3},
		{"to=" + url.QueryEscape(start.Add(30*time.Minute).Format(time.RFC3339)), 6},
		{"ext=20003", 1},
		{"ext=20003&branch=branch-2", 0},
		{"number=" + url.QueryEscape(number(2)), 2},
		{"number=" + url.QueryEscape("+49 (30) 555-0002"), 2},
		{"number=" + url.QueryEscape(number(2)) + "&branch=branch-1", 1},
		{"tag=complaint", 1},
		{"tag=praise", 0},
	} {
		if got := count(tc.q); got != tc.want {
			t.Errorf("search %q: %d recordings, want %d", tc.q, got, tc.want)
		}
	}
	if st, _ := c.do("GET", "/api/v1/recordings?from=yesterday", nil, nil); st != http.StatusBadRequest {
		t.Fatalf("bad date: %d", st)
	}
}

// TestSessions: CSRF on cookie sessions, the idle timeout, sign-out, the
// lockout after repeated failures, and a code used only once.
func TestSessions(t *testing.T) {
	e := newEnv(t, nil)
	e.addBox("branch-1", synth.Config{Calls: 1, Duration: time.Second, Start: e.clock.Now().Add(-time.Hour)})
	u := e.addUser("dora", access.DPO)
	c := e.httpClient()
	webSignIn(t, e, c, u)
	id := e.recordings("branch-1")[0]
	// A change with the cookie but without the CSRF token: 403, audited.
	resp, err := c.PostForm(e.web+"/web/request", url.Values{"kind": {"erase"}, "appliance": {"branch-1"}, "recording": {id}, "reason": {"x"}})
	if err != nil {
		t.Fatal(err)
	}
	readAll(resp)
	if resp.StatusCode != http.StatusForbidden || e.events("denied", "dora", "CSRF") != 1 {
		t.Fatalf("POST without the CSRF token: %d", resp.StatusCode)
	}
	// With it: accepted.
	resp, _ = c.Get(e.web + "/requests")
	csrf := between(readAll(resp), `name="csrf" value="`, `"`)
	resp, _ = c.PostForm(e.web+"/web/request", url.Values{"csrf": {csrf}, "kind": {"release"}, "appliance": {"branch-1"}, "recording": {id}, "reason": {"x"}})
	readAll(resp)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST with the CSRF token: %d", resp.StatusCode)
	}
	// Idle for longer than the timeout: signed out.
	e.clock.Add(16 * time.Minute)
	resp, _ = c.Get(e.web + "/requests")
	readAll(resp)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/signin?next=%2Frequests" {
		t.Fatalf("after 16 idle minutes: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	// A code is good once.
	a := e.signIn(u)
	anon := &api{e: e, http: e.httpClient()}
	if st, _ := anon.do("POST", "/api/v1/session", access.SignIn{Name: u.name, Password: u.password, TOTP: e.code(u)}, nil); st != http.StatusUnauthorized {
		t.Fatalf("the same code twice: %d", st)
	}
	if e.events("signin_failed", "dora", "already used") != 1 {
		t.Fatal("code reuse not audited")
	}
	// Sign-out ends the token.
	if st, _ := a.do("DELETE", "/api/v1/session", nil, nil); st != http.StatusNoContent {
		t.Fatal(st)
	}
	if st, _ := a.do("GET", "/api/v1/requests", nil, nil); st != http.StatusUnauthorized {
		t.Fatalf("token after sign-out: %d", st)
	}
	// Failures slow their source down (a backoff from the third, the
	// right password included), and the backoff ends by itself.
	st := 0
	for i := 0; i < 5 && st != http.StatusTooManyRequests; i++ {
		st, _ = anon.do("POST", "/api/v1/session", access.SignIn{Name: u.name, Password: "wrong", TOTP: "123456"}, nil)
	}
	if st != http.StatusTooManyRequests {
		t.Fatalf("five wrong passwords in a row: %d, want 429", st)
	}
	if st, _ := anon.do("POST", "/api/v1/session", access.SignIn{Name: u.name, Password: u.password, TOTP: e.code(u)}, nil); st != http.StatusTooManyRequests {
		t.Fatalf("right password during the backoff: %d", st)
	}
	e.clock.Add(31 * time.Second)
	if st, _ := anon.do("POST", "/api/v1/session", access.SignIn{Name: u.name, Password: u.password, TOTP: e.code(u)}, nil); st != 200 {
		t.Fatalf("after the backoff: %d", st)
	}
}

// TestWithoutIdentity: an access service started without the archive's
// identity lists what is in clear and nothing else.
func TestWithoutIdentity(t *testing.T) {
	e := newEnv(t, nil)
	e.addBox("branch-1", synth.Config{Calls: 2, Duration: time.Second, Start: e.clock.Now().Add(-time.Hour)})
	bare := access.New(e.a, nil)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go bare.Serve(ctx, ln)
	u := e.addUser("sup", access.Supervisor, "branch-1")
	// Its second factor is sealed: signing in needs the identity. A
	// session opened where it is held works here.
	c := e.signIn(u)
	web := e.web
	e.web = "https://" + ln.Addr().String()
	defer func() { e.web = web }()
	e.clock.Add(31 * time.Second)
	if st, body := (&api{e: e, http: e.httpClient()}).do("POST", "/api/v1/session", access.SignIn{Name: u.name, Password: u.password, TOTP: e.code(u)}, nil); st != http.StatusServiceUnavailable {
		t.Fatalf("sign-in without the identity: %d %s", st, body)
	}
	var out struct {
		Recordings []access.Hit `json:"recordings"`
	}
	if st, body := c.do("GET", "/api/v1/recordings", nil, &out); st != 200 || len(out.Recordings) != 2 {
		t.Fatalf("list without the identity: %d %s", st, body)
	}
	for _, h := range out.Recordings {
		if h.Personal != nil {
			t.Fatal("metadata opened without the identity")
		}
	}
	if st, _ := c.do("GET", "/api/v1/recordings?number=%2B49305550001", nil, nil); st != http.StatusServiceUnavailable {
		t.Fatalf("number search without the identity: %d", st)
	}
	if resp, _ := c.get("/api/v1/recordings/branch-1/" + out.Recordings[0].ID + "/audio"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("playback without the identity: %d", resp.StatusCode)
	}
}

// TestAlertMailAndAnchoring: an alert reaches the DPO by mail through an
// SMTP relay, and the archive's own trail is anchored in the anchor log.
func TestAlertMailAndAnchoring(t *testing.T) {
	mails := make(chan string, 10)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	go smtpServer(ln, mails)
	e := newEnv(t, func(c *archive.Config) {
		c.Access.AlertEmail, c.Access.SMTP, c.Access.SMTPFrom = "dpo@bank.example", ln.Addr().String(), "archive@bank.example"
	})
	e.a.Event(context.Background(), "tamper_test", "archive", "branch-9", "a chain rewritten", true)
	select {
	case m := <-mails:
		if !strings.Contains(m, "RCPT TO:<dpo@bank.example>") || !strings.Contains(m, "Subject: [spanvault] tamper_test") || !strings.Contains(m, "a chain rewritten") {
			t.Fatalf("mail: %s", m)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no alert mail")
	}
	// Serve's background loop anchors too: after this call the log's
	// last record of the archive's trail is the trail's head now.
	e.svc.AnchorTrail(context.Background())
	ctx := context.Background()
	var id int64
	var hash string
	e.a.Index.DB().QueryRowContext(ctx, `SELECT id, hash FROM events ORDER BY id DESC LIMIT 1`).Scan(&id, &hash)
	var seq int64
	var text []byte
	if err := e.a.Index.DB().QueryRowContext(ctx, `SELECT seq, text FROM anchor_records WHERE appliance = ? ORDER BY n DESC LIMIT 1`, "archive:test-archive").Scan(&seq, &text); err != nil {
		t.Fatalf("no anchor record of the archive's trail: %v", err)
	}
	if seq != id || string(text) != string(wire.AnchorText("archive:test-archive", uint64(id), hash)) {
		t.Fatalf("anchored head %d %q, trail head %d %s", seq, text, id, hash)
	}
	var dup int
	e.a.Index.DB().QueryRowContext(ctx, `SELECT COUNT(*) - COUNT(DISTINCT seq) FROM anchor_records WHERE appliance = ?`, "archive:test-archive").Scan(&dup)
	if dup != 0 {
		t.Fatalf("%d heads anchored twice", dup)
	}
	if _, err := e.a.Index.VerifyEvents(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// smtpServer is a minimal SMTP relay: it speaks enough of RFC 5321 for
// net/smtp and hands each conversation over.
func smtpServer(ln net.Listener, out chan<- string) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		go func(conn net.Conn) {
			defer conn.Close()
			var log strings.Builder
			r := bufio.NewReader(conn)
			fmt.Fprintf(conn, "220 relay ESMTP\r\n")
			data := false
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				log.WriteString(line)
				switch {
				case data:
					if line == ".\r\n" {
						data = false
						fmt.Fprintf(conn, "250 queued\r\n")
					}
				case strings.HasPrefix(line, "EHLO"), strings.HasPrefix(line, "HELO"):
					fmt.Fprintf(conn, "250 relay\r\n")
				case strings.HasPrefix(line, "DATA"):
					data = true
					fmt.Fprintf(conn, "354 go on\r\n")
				case strings.HasPrefix(line, "QUIT"):
					fmt.Fprintf(conn, "221 bye\r\n")
					out <- log.String()
					return
				default:
					fmt.Fprintf(conn, "250 ok\r\n")
				}
			}
		}(conn)
	}
}

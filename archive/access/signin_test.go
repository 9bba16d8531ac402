package access_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"

	"github.com/spanvault/spanvault/archive/access"
)

// from is an API client whose connections come from ip (any 127.0.0.0/8
// address is loopback on Linux): a distinct source to the service.
func (e *env) from(ip string) *api {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &api{e: e, http: &http.Client{Timeout: 2 * time.Minute,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.pool}, DialContext: d.DialContext},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// post sends a JSON body without failing the test (for goroutines).
func (c *api) post(path string, in any) (int, string, error) {
	b, _ := json.Marshal(in)
	req, _ := http.NewRequest("POST", c.e.web+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), nil
}

// vm reads a figure (kB) of /proc/self/status.
func vm(field string) int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

func failures(t *testing.T, e *env, name string) int {
	t.Helper()
	var n int
	if err := e.a.Index.DB().QueryRowContext(context.Background(), `SELECT failed FROM users WHERE name = ?`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSignInFloodMemory (issue 20 finding 3): 100 concurrent sign-ins with
// bogus names from 100 sources keep the process (service and clients)
// under 256 MiB resident, and a real user still signs in.
func TestSignInFloodMemory(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("needs /proc")
	}
	e := newEnv(t, nil)
	u := e.addUser("olga", access.Admin)
	e.signIn(u)
	e.clock.Add(31 * time.Second)
	clients := make([]*api, 100)
	for i := range clients {
		clients[i] = e.from(fmt.Sprintf("127.0.0.%d", i+2))
	}
	owner := e.httpClientAPI()

	runtime.GC()
	debug.FreeOSMemory()
	before := vm("VmRSS")
	reset := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil // VmHWM := VmRSS
	var peak int64
	stop, sampled := make(chan struct{}), make(chan struct{})
	go func() { // a sampler, in case the peak could not be reset
		defer close(sampled)
		for {
			peak = max(peak, vm("VmRSS"))
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	start := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			st, _, err := c.post("/api/v1/session", access.SignIn{Name: fmt.Sprintf("nobody-%d", i), Password: "guess " + strconv.Itoa(i), TOTP: "123456"})
			if err != nil {
				st = -1
			}
			mu.Lock()
			statuses[st]++
			mu.Unlock()
		}()
	}
	// The owner signs in during the flood; if the service is busy (503),
	// again once the flood is over.
	ownerSt := make(chan int, 1)
	go func() {
		<-start
		st, _, _ := owner.post("/api/v1/session", access.SignIn{Name: u.name, Password: u.password, TOTP: e.code(u)})
		ownerSt <- st
	}()
	close(start)
	wg.Wait()
	close(stop)
	<-sampled
	if reset {
		peak = max(peak, vm("VmHWM"))
	}
	during := <-ownerSt
	t.Logf("100 bogus sign-ins: statuses %v; resident %d MiB before, peak %d MiB (peak reset: %v); owner during the flood: %d", statuses, before>>10, peak>>10, reset, during)
	if peak > 256<<10 {
		t.Errorf("peak resident %d MiB during 100 concurrent bogus sign-ins (%d MiB before), want < 256 MiB", peak>>10, before>>10)
	}
	if statuses[-1] > 0 {
		t.Errorf("%d sign-ins failed to connect", statuses[-1])
	}
	if during != 200 {
		if during != http.StatusServiceUnavailable {
			t.Fatalf("owner during the flood: %d", during)
		}
		if st, body, _ := owner.post("/api/v1/session", access.SignIn{Name: u.name, Password: u.password, TOTP: e.code(u)}); st != 200 {
			t.Fatalf("owner after the flood: %d %s", st, body)
		}
	}
}

func (e *env) httpClientAPI() *api { return &api{e: e, http: e.httpClient()} }

func secretOf(t *testing.T, totpURL string) string {
	t.Helper()
	k, err := otp.NewKeyFromURL(totpURL)
	if err != nil {
		t.Fatal(err)
	}
	return k.Secret()
}

// TestParallelWrongPasswordsCounted (finding 4): 40 wrong passwords sent
// at once are all accounted for, each either counted as a failure or
// refused before the hash, and the right password does not slip in
// behind them.
func TestParallelWrongPasswordsCounted(t *testing.T) {
	e := newEnv(t, nil)
	u := e.addUser("paula", access.Auditor)
	e.signIn(u)
	e.clock.Add(31 * time.Second)
	attacker := e.from("127.0.0.5")
	var wg sync.WaitGroup
	var mu sync.Mutex
	st := map[int]int{}
	start := make(chan struct{})
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			s, _, err := attacker.post("/api/v1/session", access.SignIn{Name: u.name, Password: "wrong " + strconv.Itoa(i), TOTP: "123456"})
			if err != nil {
				s = -1
			}
			mu.Lock()
			st[s]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	n := failures(t, e, u.name)
	t.Logf("40 parallel wrong passwords: statuses %v, failure counter %d", st, n)
	if n != st[401] || st[401]+st[429] != 40 {
		t.Fatalf("40 parallel wrong passwords: statuses %v, failure counter %d: want every 401 counted and the rest refused before the hash (429)", st, n)
	}
	if s, _, _ := attacker.post("/api/v1/session", access.SignIn{Name: u.name, Password: u.password, TOTP: e.code(u)}); s == 200 {
		t.Fatal("the right password signed in right after 40 wrong ones from the same source")
	}
	// The refusals before the hash are in the trail too: one entry for
	// the source and the minute, with the count.
	e.clock.Add(time.Minute)
	attacker.post("/api/v1/session", access.SignIn{Name: "", Password: "x"})
	access.RefusalsWritten(e.svc)
	if got := e.events("signin_refused", "", "41 refused from 127.0.0.5"); got != 1 {
		t.Errorf("aggregated refusals of 127.0.0.5: %d entries", got)
	}
	// The owner, from where they signed in before, is not kept out.
	e.signIn(u)
}

// TestOneCodeOneSession (finding 4): one TOTP code sent by 10 sources at
// once opens exactly one session.
func TestOneCodeOneSession(t *testing.T) {
	e := newEnv(t, nil)
	u := e.addUser("quinn", access.Auditor)
	e.signIn(u)
	e.clock.Add(31 * time.Second)
	code := e.code(u)
	var wg sync.WaitGroup
	var mu sync.Mutex
	st := map[int]int{}
	start := make(chan struct{})
	for i := 0; i < 10; i++ {
		c := e.from(fmt.Sprintf("127.0.1.%d", i+1))
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			s, _, _ := c.post("/api/v1/session", access.SignIn{Name: u.name, Password: u.password, TOTP: code})
			mu.Lock()
			st[s]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	if st[200] != 1 {
		t.Fatalf("one code, 10 parallel sign-ins: statuses %v, want exactly one 200", st)
	}
}

// TestOutsiderCannotLockOwnerOut (finding 4): an outsider failing once
// every 15 minutes does not keep the owner out; from a new source the
// owner waits for an administrator's unlock.
func TestOutsiderCannotLockOwnerOut(t *testing.T) {
	e := newEnv(t, nil)
	u := e.addUser("rita", access.Auditor)
	e.signIn(u)
	outsider := e.from("127.0.0.66")
	fail := func() {
		t.Helper()
		if s, body, _ := outsider.post("/api/v1/session", access.SignIn{Name: u.name, Password: "guess", TOTP: "000000"}); s != 401 && s != 429 {
			t.Fatalf("outsider's failure: %d %s", s, body)
		}
	}
	// Five quick failures, then one every 15 minutes; the owner signs in
	// from where they did before, half a minute after each.
	for range 5 {
		fail()
	}
	for round := range 6 {
		if round > 0 {
			fail()
		}
		e.clock.Add(31 * time.Second)
		if s, body, _ := e.httpClientAPI().post("/api/v1/session", access.SignIn{Name: u.name, Password: u.password, TOTP: e.code(u)}); s != 200 {
			t.Fatalf("round %d: the owner is kept out by an outsider's failure every 15 minutes: %d %s", round, s, body)
		}
		e.clock.Add(15 * time.Minute)
	}
	// Five failures in a row: a new source (the owner travelling) waits
	// for an administrator.
	for range 5 {
		fail()
		e.clock.Add(15 * time.Minute)
	}
	away := e.from("127.0.0.77")
	e.clock.Add(31 * time.Second)
	if s, _, _ := away.post("/api/v1/session", access.SignIn{Name: u.name, Password: u.password, TOTP: e.code(u)}); s != 401 {
		t.Fatalf("a new source after five failures in a row: %d", s)
	}
	admin := e.signIn(e.addUser("adam", access.Admin))
	if s, body := admin.do("POST", "/api/v1/users/rita/unlock", nil, nil); s != http.StatusNoContent {
		t.Fatalf("unlock: %d %s", s, body)
	}
	e.clock.Add(31 * time.Second)
	if s, body, _ := away.post("/api/v1/session", access.SignIn{Name: u.name, Password: u.password, TOTP: e.code(u)}); s != 200 {
		t.Fatalf("after the unlock: %d %s", s, body)
	}
	if e.events("user_unlocked", "adam", "rita") != 1 {
		t.Error("unlock not audited")
	}
}

// TestSignInCostSameForEveryName (finding 4): an unknown name, a known
// one and a locked one each cost exactly one argon2 run.
func TestSignInCostSameForEveryName(t *testing.T) {
	e := newEnv(t, nil)
	known := e.addUser("sven", access.Auditor)
	locked := e.addUser("tina", access.Auditor)
	e.signIn(known)
	e.signIn(locked)
	if _, err := e.a.Index.DB().ExecContext(context.Background(), `UPDATE users SET failed = 5, locked_until = ? WHERE name = 'tina'`, e.clock.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano)); err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct{ what, name, password string }{
		{"unknown name", "nobody", "some password"},
		{"known name, wrong password", "sven", "some password"},
		{"known name, right password, wrong code", "sven", known.password},
		{"locked name, wrong password", "tina", "some password"},
		{"locked name, right password", "tina", locked.password},
	} {
		before := access.HashCount(e.svc)
		st, _, _ := e.from(fmt.Sprintf("127.0.2.%d", i+1)).post("/api/v1/session", access.SignIn{Name: tc.name, Password: tc.password, TOTP: "000000"})
		if n := access.HashCount(e.svc) - before; n != 1 || st != 401 {
			t.Errorf("%s: %d argon2 runs, status %d; want 1 and 401", tc.what, n, st)
		}
	}
}

// TestRefusalsAggregated (finding 11): sign-ins with 1 MiB (and 4 KiB)
// names on the API and the web form, and
// garbage /l/ requests are refused before anything is audited; the trail
// gets one entry per source and minute, with the count.
func TestRefusalsAggregated(t *testing.T) {
	e := newEnv(t, nil)
	c := e.httpClientAPI()
	trail := func() int {
		es, err := e.a.Index.Events(context.Background(), "", false)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range es {
			if len(ev.Actor)+len(ev.Detail) > 4096 {
				t.Fatalf("a %s entry of %d bytes in the trail", ev.Kind, len(ev.Actor)+len(ev.Detail))
			}
		}
		return len(es)
	}
	e.clock.Add(time.Minute - time.Duration(e.clock.Now().Second())*time.Second) // the start of a minute
	base, logs := trail(), len(e.logs.String())
	huge := strings.Repeat("a", 1<<20-200) // the API reads 1 MiB bodies
	for range 10 {
		if st, _, _ := c.post("/api/v1/session", access.SignIn{Name: huge, Password: "x", TOTP: "123456"}); st == 200 {
			t.Fatal("signed in")
		}
	}
	for range 5 { // within the API's sign-in body limit, past the name's
		if st, _, _ := c.post("/api/v1/session", access.SignIn{Name: strings.Repeat("b", 4<<10), Password: "x", TOTP: "123456"}); st != http.StatusBadRequest {
			t.Fatalf("4 KiB name: %d", st)
		}
	}
	for range 2 { // the web form
		resp, err := c.http.PostForm(e.web+"/signin", url.Values{"name": {huge}, "password": {"x"}, "totp": {"123456"}})
		if err != nil {
			t.Fatal(err)
		}
		if readAll(resp); resp.StatusCode == http.StatusSeeOther {
			t.Fatal("web sign-in with a 1 MiB name")
		}
	}
	for i := range 50 {
		resp, _ := c.get("/l/garbage-" + strconv.Itoa(i))
		if resp.StatusCode == 200 {
			t.Fatal("garbage link served")
		}
	}
	if got := trail(); got > base {
		t.Fatalf("the trail grew by %d entries during the minute of 17 huge sign-in names and 50 garbage links", got-base)
	}
	if grew := len(e.logs.String()) - logs; grew > 64<<10 {
		t.Fatalf("the log grew by %d bytes", grew)
	}
	e.clock.Add(time.Minute)
	c.get("/l/garbage-next-minute")
	access.RefusalsWritten(e.svc)
	if e.events("signin_refused", "", "17 refused from 127.0.0.1") != 1 || e.events("link_refused", "", "50 refused from 127.0.0.1") != 1 {
		es, _ := e.a.Index.Events(context.Background(), "", false)
		for _, ev := range es[base:] {
			t.Logf("%s %q %.200s", ev.Kind, ev.Actor[:min(len(ev.Actor), 40)], ev.Detail)
		}
		t.Fatal("want one aggregated entry for the sign-ins and one for the links")
	}
	if got := trail(); got-base != 2 {
		t.Fatalf("the trail grew by %d entries, want 2", got-base)
	}
}

// TestSecondFactorSealedAndIndexPrivate (finding 10): no TOTP secret is
// in clear in the index's files (those added before sealing included,
// once the service ran), and the files are 0600.
func TestSecondFactorSealedAndIndexPrivate(t *testing.T) {
	e := newEnv(t, nil)
	fresh := e.addUser("uma", access.Auditor)
	nu, err := access.AddUser(context.Background(), e.a.Index.DB(), e.clock.Now(), "vera", access.Auditor, nil) // as "user add" without the identity
	if err != nil {
		t.Fatal(err)
	}
	legacy := &user{name: "vera", password: nu.Password, secret: secretOf(t, nu.TOTPURL), role: access.Auditor}
	e.signIn(fresh)
	e.signIn(legacy)
	rows, err := e.a.Index.DB().QueryContext(context.Background(), `SELECT name, totp FROM users`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name, secret string
		rows.Scan(&name, &secret)
		if !strings.HasPrefix(secret, "sealed1:") {
			t.Errorf("%s's second factor is not sealed in the index", name)
		}
	}
	rows.Close()
	path := filepath.Join(e.dir, "index.db")
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		b, err := os.ReadFile(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range []*user{fresh, legacy} {
			if bytes.Contains(b, []byte(u.secret)) {
				t.Errorf("%s holds %s's TOTP secret in clear", filepath.Base(p), u.name)
			}
		}
		fi, _ := os.Stat(p)
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s is %v, want 0600", filepath.Base(p), fi.Mode().Perm())
		}
	}
}

// TestOneTimePasswordOnlySetsOne (finding 10): the one-time password
// opens no API session; it sets a new password, and that one signs in.
func TestOneTimePasswordOnlySetsOne(t *testing.T) {
	e := newEnv(t, nil)
	u := e.addUser("willa", access.Auditor)
	e.clock.Add(31 * time.Second)
	c := e.httpClientAPI()
	if st, body, _ := c.post("/api/v1/session", access.SignIn{Name: u.name, Password: u.password, TOTP: e.code(u)}); st == 200 {
		t.Fatalf("the one-time password opened an API session: %s", body)
	}
	a := e.signIn(u) // through POST /api/v1/password
	if st, _ := a.do("GET", "/api/v1/audit", nil, nil); st != 200 {
		t.Fatalf("with the new password: %d", st)
	}
}

// TestPasswordChange (finding 10): changing a password takes the current
// one and a code, on the API and the web page, and ends the user's other
// sessions.
func TestPasswordChange(t *testing.T) {
	e := newEnv(t, nil)
	u := e.addUser("xena", access.Auditor)
	s1 := e.signIn(u)
	s2 := e.signIn(u)
	web := e.httpClient()
	webSignIn(t, e, web, u)
	// The web form with the new password only (as before): refused.
	resp, _ := web.Get(e.web + "/password")
	csrf := between(readAll(resp), `name="csrf" value="`, `"`)
	resp, err := web.PostForm(e.web+"/password", url.Values{"csrf": {csrf}, "password": {"a stolen session's password"}})
	if err != nil {
		t.Fatal(err)
	}
	readAll(resp)
	if resp.StatusCode == http.StatusSeeOther {
		t.Fatal("the web page changed the password without the current one")
	}
	e.clock.Add(31 * time.Second)
	c := e.httpClientAPI()
	for _, in := range []access.ChangePassword{
		{Name: u.name, Password: "not the password", TOTP: e.code(u), NewPassword: "another long password"},
		{Name: u.name, Password: u.password, TOTP: "", NewPassword: "another long password"},
	} {
		if st, body, _ := c.post("/api/v1/password", in); st == 200 {
			t.Fatalf("password changed without the current password and a code: %s", body)
		}
	}
	e.clock.Add(31 * time.Second)
	var rep access.SignInReply
	if st, body := c.do("POST", "/api/v1/password", access.ChangePassword{Name: u.name, Password: u.password, TOTP: e.code(u), NewPassword: "another long password"}, &rep); st != 200 {
		t.Fatalf("password change: %d %s", st, body)
	}
	u.password = "another long password"
	for i, s := range []*api{s1, s2} {
		if st, _ := s.do("GET", "/api/v1/audit", nil, nil); st != http.StatusUnauthorized {
			t.Errorf("session %d after the password change: %d", i+1, st)
		}
	}
	resp, _ = web.Get(e.web + "/audit")
	readAll(resp)
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("web session after the password change: %d", resp.StatusCode)
	}
	c.token = rep.Token
	if st, _ := c.do("GET", "/api/v1/audit", nil, nil); st != 200 {
		t.Errorf("the new session: %d", st)
	}
}

// TestDisableResetEnable (finding 10): an administrator disables a user
// (signed out at once, no sign-in, still one argon2 run), enables them
// again; a reset takes a second administrator, who receives a setup
// link (never the secrets) the user sets their own through.
func TestDisableResetEnable(t *testing.T) {
	e := newEnv(t, nil)
	admin := e.signIn(e.addUser("yann", access.Admin))
	admin2 := e.signIn(e.addUser("zoe", access.Admin))
	u := e.addUser("carl", access.Auditor)
	s := e.signIn(u)
	if st, body := admin.do("POST", "/api/v1/users/carl/disable", map[string]string{"reason": "left the company"}, nil); st != http.StatusNoContent {
		t.Fatalf("disable: %d %s", st, body)
	}
	if st, _ := s.do("GET", "/api/v1/audit", nil, nil); st != http.StatusUnauthorized {
		t.Fatalf("disabled user's session: %d", st)
	}
	e.clock.Add(31 * time.Second)
	before := access.HashCount(e.svc)
	if st, _, _ := e.from("127.0.3.1").post("/api/v1/session", access.SignIn{Name: u.name, Password: u.password, TOTP: e.code(u)}); st != 401 {
		t.Fatalf("disabled user signed in: %d", st)
	}
	if n := access.HashCount(e.svc) - before; n != 1 {
		t.Errorf("a disabled account's sign-in ran argon2 %d times", n)
	}
	if st, _ := admin.do("POST", "/api/v1/users/carl/enable", nil, nil); st != http.StatusNoContent {
		t.Fatalf("enable: %d", st)
	}
	e.signIn(u)
	// Reset: four eyes.
	var req access.Request
	if st, body := admin.do("POST", "/api/v1/users/carl/reset", map[string]string{"reason": "lost the phone"}, &req); st != http.StatusAccepted {
		t.Fatalf("reset: %d %s", st, body)
	}
	if st, _ := admin.do("POST", fmt.Sprintf("/api/v1/requests/%d/approve", req.ID), nil, nil); st != http.StatusForbidden {
		t.Fatalf("the requester approved their own reset: %d", st)
	}
	var done access.Request
	if st, body := admin2.do("POST", fmt.Sprintf("/api/v1/requests/%d/approve", req.ID), nil, &done); st != 200 || done.SetupLink == "" {
		t.Fatalf("approve the reset: %d %s", st, body)
	}
	e.clock.Add(31 * time.Second)
	if st, _, _ := e.httpClientAPI().post("/api/v1/session", access.SignIn{Name: u.name, Password: u.password, TOTP: e.code(u)}); st != 401 {
		t.Fatalf("the old password after a reset: %d", st)
	}
	nu := setUp(t, e, done.SetupLink, u.name, u.role)
	e.signIn(nu)
	if es, _ := e.a.Index.Events(context.Background(), "", false); strings.Contains(fmt.Sprint(es), strings.TrimPrefix(done.SetupLink, e.web+"/setup/")) {
		t.Fatal("the setup link is in the trail")
	}
}

package access_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/archive/index/pgtest"
	"github.com/spanvault/spanvault/archive/keyring"
	"github.com/spanvault/spanvault/archive/store/s3test"
	"github.com/spanvault/spanvault/capture"
	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/decode"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/sync/client"
	"github.com/spanvault/spanvault/sync/wire"
	"github.com/spanvault/spanvault/vault"
	"github.com/spanvault/spanvault/vault/retention"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var day = 24 * time.Hour

// Calls 0-9 of the generator are from +493055500000..9: the "mifid" class
// (a legal retention duty); later ones are "default".
func testPolicy() *retention.Policy {
	return &retention.Policy{
		Classes: []retention.Class{
			{Name: "default", Record: true, MaxAge: retention.Duration(90 * day), Grace: retention.Duration(7 * day)},
			{Name: "mifid", Record: true, MaxAge: retention.Duration(7 * 365 * day), MustSync: true, Grace: retention.Duration(30 * day)},
		},
		Rules:        []retention.Rule{{Numbers: []string{"+4930555000*"}, Class: "mifid"}},
		DefaultClass: "default",
	}
}

// box is an enrolled appliance with a real vault.
type box struct {
	name   string
	enroll string
	v      *vault.Vault
	c      *client.Client
	health wire.Health
}

// env is an archive (ingest over mutual TLS) and its access service
// (HTTPS) on loopback, real certificates, real boxes syncing to it.
type env struct {
	t        testing.TB
	clock    *clock
	dir      string
	a        *archive.Archive
	svc      *access.Service
	addr     string // ingest
	web      string // https://host:port
	identity *age.X25519Identity
	keys     *keyring.Keyring
	boxes    map[string]*box
	logs     *lockedBuffer
	pool     *x509.CertPool
	alerts   chan access.Alert
	stop     func()
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// newEnv makes the archive; edit edits its configuration before it opens.
func newEnv(t testing.TB, edit func(*archive.Config)) *env {
	t.Helper()
	e := &env{t: t, clock: &clock{t: time.Now().UTC().Truncate(time.Second)}, dir: filepath.Join(t.TempDir(), "archive"), boxes: map[string]*box{}, logs: &lockedBuffer{}, alerts: make(chan access.Alert, 100)}
	opt := archive.InitOptions{Name: "test-archive", Listen: "127.0.0.1:0"}
	if os.Getenv("SPANVAULT_TEST_INDEX") == "postgres" {
		opt.Index = pgtest.Start(t)
	}
	if os.Getenv("SPANVAULT_TEST_STORE") == "s3" {
		opt.Store = s3test.Start(t).URL()
	}
	if err := archive.Init(e.dir, opt); err != nil {
		t.Fatal(err)
	}
	// The DPO's webhook: a real HTTP server on loopback.
	hook := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a access.Alert
		json.NewDecoder(r.Body).Decode(&a)
		select {
		case e.alerts <- a:
		default:
		}
	})}
	hl, _ := net.Listen("tcp", "127.0.0.1:0")
	go hook.Serve(hl)
	t.Cleanup(func() { hook.Close() })
	a, err := archive.Open(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	a.Config.LegalRetention = []string{"mifid"}
	a.Config.Access.AlertWebhook = fmt.Sprintf("http://%s/hook", hl.Addr())
	// Tests run at any hour: working hours are the whole week unless a
	// test says otherwise, read in UTC like the test clock.
	a.Config.Access.WorkingHours, a.Config.Access.WorkingDays, a.Config.Access.TimeZone = "00:00-24:00", "Mon-Sun", "UTC"
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	wl, _ := net.Listen("tcp", "127.0.0.1:0")
	e.addr, e.web = ln.Addr().String(), "https://"+wl.Addr().String()
	a.Config.Access.PublicURL = e.web
	if edit != nil {
		edit(&a.Config)
	}
	a.Now = e.clock.Now
	a.Logger = slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.a = a
	e.identity, _ = age.GenerateX25519Identity()
	e.keys, err = keyring.Parse([]byte(e.identity.String()))
	if err != nil {
		t.Fatal(err)
	}
	e.svc = access.New(a, e.keys)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { a.Serve(ctx, ln); done <- struct{}{} }()
	go func() { e.svc.Serve(ctx, wl); done <- struct{}{} }()
	e.stop = func() {
		cancel()
		<-done
		<-done
		for _, b := range e.boxes {
			b.v.Close()
		}
		a.Close()
	}
	t.Cleanup(e.stop)
	ca, err := os.ReadFile(filepath.Join(e.dir, "ca", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	e.pool = x509.NewCertPool()
	if !e.pool.AppendCertsFromPEM(ca) {
		t.Fatal("ca.crt")
	}
	return e
}

// boxOpt changes how a box records: its tracker's configuration, and a
// hook run before every frame (to tag live calls, for instance).
type boxOpt struct {
	tracker calls.Config
	each    func(tr *calls.Tracker, at time.Time)
	// inject returns extra frames to capture after each one.
	inject func(tr *calls.Tracker, at time.Time, frame []byte) [][]byte
	// drop discards a frame between the wire and the box.
	drop func(frame []byte) bool
}

// addBox enrolls a box, records calls into its vault and syncs them.
func (e *env) addBox(name string, cfg synth.Config, opts ...boxOpt) *box {
	e.t.Helper()
	r, err := e.a.Enroll(context.Background(), name, filepath.Join(e.t.TempDir(), "enroll"), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	b := &box{name: name, enroll: r.Dir, health: wire.Health{Version: "spanvault test", LED: "green", ClockSynced: true}}
	b.v, err = vault.Open(vault.Options{Dir: filepath.Join(e.t.TempDir(), "vault"), Recipients: []age.Recipient{e.identity.Recipient()}, Policy: testPolicy(),
		Now: e.clock.Now, ClockSynced: func() bool { return true }})
	if err != nil {
		e.t.Fatal(err)
	}
	e.boxes[name] = b
	b.c, err = client.New(client.Config{Name: name, Archives: []string{e.addr},
		Cert: filepath.Join(r.Dir, "sync.crt"), Key: filepath.Join(r.Dir, "sync.key"),
		CA: filepath.Join(r.Dir, "ca.crt"), AnchorKey: filepath.Join(r.Dir, "anchor.vkey"), Now: e.clock.Now}, b.v)
	if err != nil {
		e.t.Fatal(err)
	}
	if cfg.Calls > 0 {
		g := synth.New(cfg)
		var o boxOpt
		if len(opts) > 0 {
			o = opts[0]
		}
		tr := calls.NewTracker(o.tracker, b.v, b.v)
		p := capture.NewPipeline(decode.New(decode.DefaultOptions), tr)
		g.Each(func(f synth.Frame) {
			if o.each != nil {
				o.each(tr, f.Time)
			}
			if o.drop == nil || !o.drop(f.Data) {
				p.Handle(f.Data, decode.LinkEthernet, f.Time)
			}
			if o.inject != nil {
				for _, x := range o.inject(tr, f.Time, f.Data) {
					p.Handle(x, decode.LinkEthernet, f.Time)
				}
			}
		})
		p.Close("capture ended")
	}
	e.sync(b)
	return b
}

// sync runs one sync pass of a box (check-in, upload, commands).
func (e *env) sync(b *box) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := b.c.Pass(ctx, client.Options{Upload: true, Health: b.health}); err != nil {
		e.t.Fatalf("sync %s: %v", b.name, err)
	}
}

// user adds a user and returns its one-time password and TOTP secret.
type user struct {
	name, password, secret string
	role                   access.Role
	set                    bool // the one-time password is replaced
}

func (e *env) addUser(name string, role access.Role, branches ...string) *user {
	e.t.Helper()
	nu, err := access.AddUser(context.Background(), e.a.Index.DB(), e.clock.Now(), name, role, branches, e.keys)
	if err != nil {
		e.t.Fatal(err)
	}
	k, err := otp.NewKeyFromURL(nu.TOTPURL)
	if err != nil {
		e.t.Fatal(err)
	}
	return &user{name: name, password: nu.Password, secret: k.Secret(), role: role}
}

func (e *env) code(u *user) string {
	c, err := totp.GenerateCodeCustom(u.secret, e.clock.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// api is a signed-in API client (bearer token).
type api struct {
	e     *env
	token string
	http  *http.Client
}

func (e *env) httpClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 2 * time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// signIn signs u in through the API (moving the clock to a fresh TOTP
// step: a code is good once); the first time, it replaces the one-time
// password (POST /api/v1/password), which signs in too.
func (e *env) signIn(u *user) *api {
	e.t.Helper()
	e.clock.Add(31 * time.Second)
	c := &api{e: e, http: e.httpClient()}
	var rep access.SignInReply
	path, in := "/api/v1/session", any(access.SignIn{Name: u.name, Password: u.password, TOTP: e.code(u)})
	if !u.set {
		path, in = "/api/v1/password", access.ChangePassword{Name: u.name, Password: u.password, TOTP: e.code(u), NewPassword: "a long new password " + u.name}
	}
	st, body := c.do("POST", path, in, &rep)
	if st == 200 && !u.set {
		u.password, u.set = "a long new password "+u.name, true
	}
	if st != 200 {
		e.t.Fatalf("sign in %s: %d %s", u.name, st, body)
	}
	c.token = rep.Token
	return c
}

// do sends a JSON request; out (optional) receives the reply.
func (c *api) do(method, path string, in, out any) (int, string) {
	c.e.t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.e.web+path, body)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		c.e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode/100 == 2 {
		if err := json.Unmarshal(b, out); err != nil {
			c.e.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return resp.StatusCode, string(b)
}

// get fetches a URL (absolute or a path) with optional headers.
func (c *api) get(url string, hdr ...string) (*http.Response, []byte) {
	c.e.t.Helper()
	if strings.HasPrefix(url, "/") {
		url = c.e.web + url
	}
	req, _ := http.NewRequest("GET", url, nil)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.e.t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// recordings lists what the archive holds of a box (kind recording, live).
func (e *env) recordings(box string) []string {
	e.t.Helper()
	rs, err := e.a.Index.Records(context.Background(), indexQuery(box))
	if err != nil {
		e.t.Fatal(err)
	}
	var ids []string
	for _, r := range rs {
		if r.DeletedAt.IsZero() {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

// events counts audit entries of a kind whose actor and detail match.
func (e *env) events(kind, actor, detail string) int {
	es, err := e.a.Index.Events(context.Background(), kind, false)
	if err != nil {
		e.t.Fatal(err)
	}
	n := 0
	for _, ev := range es {
		if (actor == "" || ev.Actor == actor) && strings.Contains(ev.Detail, detail) {
			n++
		}
	}
	return n
}

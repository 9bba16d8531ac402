package client_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/index/pgtest"
	"github.com/spanvault/spanvault/archive/store/s3test"
	"github.com/spanvault/spanvault/capture"
	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/decode"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/internal/testkit"
	"github.com/spanvault/spanvault/sync/client"
	"github.com/spanvault/spanvault/vault"
	"github.com/spanvault/spanvault/vault/retention"
)

// clock is the movable clock the box and the archive share.
type clock = testkit.Clock

// env is an archive serving on loopback with real TLS, and one enrolled
// box with a real vault.
type env struct {
	t        testing.TB
	clock    *clock
	dir      string
	arch     *archive.Archive
	addr     string
	stop     context.CancelFunc
	done     chan error
	box      string
	enroll   string
	vdir     string
	v        *vault.Vault
	identity *age.X25519Identity
	policy   *retention.Policy
	mu       sync.Mutex // guards stop
}

var day = 24 * time.Hour

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

func newEnv(t *testing.T) *env { return newEnvTB(t) }

func newEnvTB(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, clock: testkit.NewClock(time.Now().UTC()), dir: filepath.Join(t.TempDir(), "archive"), box: "branch-1", policy: testPolicy()}
	opt := archive.InitOptions{Name: "test-archive", Listen: "127.0.0.1:0"}
	if os.Getenv("SPANVAULT_TEST_STORE") == "s3" {
		// The same acceptance tests against the S3 backend on a real
		// server with Object Lock (make test runs them both ways).
		opt.Store = s3test.Start(t).URL()
	}
	if os.Getenv("SPANVAULT_TEST_INDEX") == "postgres" {
		// The index in a private PostgreSQL server (make test runs the
		// sync acceptance tests this way too).
		opt.Index = pgtest.Start(t)
		t.Logf("archive index in PostgreSQL: %s", opt.Index)
	}
	if err := archive.Init(e.dir, opt); err != nil {
		t.Fatal(err)
	}
	e.startArchive()
	r, err := e.arch.Enroll(context.Background(), e.box, filepath.Join(t.TempDir(), "enroll"), nil)
	if err != nil {
		t.Fatal(err)
	}
	e.enroll = r.Dir
	e.identity, _ = age.GenerateX25519Identity()
	e.vdir = filepath.Join(t.TempDir(), "vault")
	e.openVault()
	t.Cleanup(func() { e.v.Close() })
	return e
}

// partialDir is where the archive keeps the box's uploads in progress:
// in its directory store, or staged beside it for S3.
func (e *env) partialDir() string {
	if os.Getenv("SPANVAULT_TEST_STORE") == "s3" {
		return filepath.Join(e.dir, "staging", "partial", e.box)
	}
	return filepath.Join(e.dir, "store", "partial", e.box)
}

func (e *env) openVault() {
	var err error
	e.v, err = vault.Open(vault.Options{Dir: e.vdir, Recipients: []age.Recipient{e.identity.Recipient()}, Policy: e.policy,
		Now: e.clock.Now, ClockSynced: func() bool { return true }})
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) startArchive() {
	e.t.Helper()
	a, err := archive.Open(e.dir)
	if err != nil {
		e.t.Fatal(err)
	}
	a.Now = e.clock.Now
	addr := e.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		e.t.Fatal(err)
	}
	e.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	e.mu.Lock()
	e.arch, e.stop, e.done = a, cancel, make(chan error, 1)
	e.mu.Unlock()
	go func() { e.done <- a.Serve(ctx, ln) }()
	e.t.Cleanup(e.stopArchive)
}

func (e *env) stopArchive() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stop == nil {
		return
	}
	t0 := time.Now()
	e.stop()
	<-e.done
	if d := time.Since(t0); d > time.Second {
		e.t.Logf("archive took %v to stop", d)
	}
	e.arch.Close()
	e.stop = nil
}

func (e *env) config() client.Config {
	return client.Config{
		Name: e.box, Archives: []string{e.addr},
		Cert: filepath.Join(e.enroll, "sync.crt"), Key: filepath.Join(e.enroll, "sync.key"),
		CA: filepath.Join(e.enroll, "ca.crt"), AnchorKey: filepath.Join(e.enroll, "anchor.vkey"),
		Now: e.clock.Now,
	}
}

func (e *env) client() *client.Client {
	e.t.Helper()
	c, err := client.New(e.config(), e.v)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// record plays generated calls through the capture pipeline into the vault.
func (e *env) record(cfg synth.Config) []*calls.Call {
	e.t.Helper()
	g := synth.New(cfg)
	var done []*calls.Call
	tr := calls.NewTracker(calls.Config{}, e.v, e.v)
	tr.Done = func(c *calls.Call) { done = append(done, c) }
	p := capture.NewPipeline(decode.New(decode.DefaultOptions), tr)
	g.Each(func(f synth.Frame) { p.Handle(f.Data, decode.LinkEthernet, f.Time) })
	p.Close("capture ended")
	return done
}

// recordFile plays a capture file into the vault.
func (e *env) recordFile(path string) {
	e.t.Helper()
	f, err := capture.OpenFile(path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	tr := calls.NewTracker(calls.Config{}, e.v, e.v)
	p := capture.NewPipeline(decode.New(decode.DefaultOptions), tr)
	for {
		data, ts, lt, err := f.Next()
		if err != nil {
			break
		}
		p.Handle(data, lt, ts)
	}
	p.Close("capture ended")
}

func corpus(name string) string {
	p := filepath.Join("..", "..", "..", "shared", "corpus", "pcaps", name)
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

func (e *env) pass(c *client.Client) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return c.Pass(ctx, client.Options{Upload: true})
}

// startArchiveOnly opens the archive directory without serving (after a
// separate process served it).
func (e *env) startArchiveOnly(t testing.TB) {
	a, err := archive.Open(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	a.Now = e.clock.Now
	e.arch = a
	t.Cleanup(func() { a.Close() })
}

type lockedBuffer = testkit.LockedBuffer

// reopenArchive opens the archive directory (not serving).
func (e *env) reopenArchive(t testing.TB) *archive.Archive {
	a, err := archive.Open(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	a.Now = e.clock.Now
	return a
}

// newEnvWithVault is a fresh archive and enrollment with a copy of e's
// vault, nothing of it synced yet.
func newEnvWithVault(t testing.TB, e *env) *env {
	f := newEnvTB(t)
	f.v.Close()
	os.RemoveAll(f.vdir)
	if out, err := exec.Command("cp", "-a", e.vdir, f.vdir).CombinedOutput(); err != nil {
		t.Fatalf("copy vault: %v %s", err, out)
	}
	// The copy is taken while e's vault is open: its lock file is copied too.
	f.identity = e.identity
	f.openVault()
	return f
}

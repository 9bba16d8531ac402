package archive_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spanvault/spanvault/appliance/config"
	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/archive/index/pgtest"
	"github.com/spanvault/spanvault/internal/testkit"
	"github.com/spanvault/spanvault/sync/wire"
)

// updEnv is an archive serving the sync protocol on loopback with real
// TLS, and enrolled boxes that talk to it with their own certificates.
type updEnv struct {
	t      *testing.T
	clock  *testkit.Clock
	dir    string
	a      *archive.Archive
	addr   string
	pool   *x509.CertPool
	boxes  map[string]*http.Client
	mu     sync.Mutex
	alerts []index.Event
}

func newUpdEnv(t *testing.T, edit func(*archive.Config)) *updEnv {
	t.Helper()
	e := &updEnv{t: t, clock: testkit.NewClock(time.Now().UTC().Truncate(time.Second)), dir: filepath.Join(t.TempDir(), "archive"), boxes: map[string]*http.Client{}}
	opt := archive.InitOptions{Name: "test-archive", Listen: "127.0.0.1:0"}
	if os.Getenv("SPANVAULT_TEST_INDEX") == "postgres" {
		opt.Index = pgtest.Start(t)
	}
	if err := archive.Init(e.dir, opt); err != nil {
		t.Fatal(err)
	}
	a, err := archive.Open(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(&a.Config)
	}
	a.Now = e.clock.Now
	a.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	a.OnAlert = func(ev index.Event) { e.mu.Lock(); e.alerts = append(e.alerts, ev); e.mu.Unlock() }
	e.a = a
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done; a.Close() })
	e.pool = x509.NewCertPool()
	e.pool.AddCert(a.CA.Cert)
	return e
}

// box enrolls a box and returns its HTTP client (its sync certificate).
func (e *updEnv) box(name string) *http.Client {
	e.t.Helper()
	r, err := e.a.Enroll(context.Background(), name, filepath.Join(e.t.TempDir(), name), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(r.Dir, "sync.crt"), filepath.Join(r.Dir, "sync.key"))
	if err != nil {
		e.t.Fatal(err)
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: e.pool,
		CurvePreferences: wire.KeyExchanges(), Certificates: []tls.Certificate{cert}}}}
	e.t.Cleanup(c.CloseIdleConnections)
	e.boxes[name] = c
	return c
}

// checkIn sends a check-in with health h as box name.
func (e *updEnv) checkIn(name string, h wire.Health) wire.CheckInReply {
	e.t.Helper()
	b, _ := json.Marshal(wire.CheckIn{Appliance: name, Time: e.clock.Now(), Health: h})
	resp, err := e.boxes[name].Post("https://"+e.addr+wire.PathCheckIn, "application/json", bytes.NewReader(b))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		body, _ := io.ReadAll(resp.Body)
		e.t.Fatalf("check-in of %s: %d %s", name, resp.StatusCode, body)
	}
	var out wire.CheckInReply
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// get downloads a path as box name with optional headers.
func (e *updEnv) get(name, path string, hdr ...string) (*http.Response, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest("GET", "https://"+e.addr+path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.boxes[name].Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, b
}

func (e *updEnv) alerted(kind string) []index.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []index.Event
	for _, ev := range e.alerts {
		if ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}

// updateKey is the archive's update key as `make image` reads it.
func (e *updEnv) updateKey() ed25519.PrivateKey {
	e.t.Helper()
	if _, err := e.a.UpdatePublicKey(); err != nil {
		e.t.Fatal(err)
	}
	k, err := archive.ReadUpdateKey(filepath.Join(e.dir, archive.UpdateKeyFile))
	if err != nil {
		e.t.Fatal(err)
	}
	return k
}

// build writes a firmware build's root and boot files and signs them
// into an update directory with key.
func (e *updEnv) build(key ed25519.PrivateKey, serial uint64, version string) string {
	e.t.Helper()
	src := e.t.TempDir()
	root, boot := filepath.Join(src, "root"), filepath.Join(src, "boot")
	for p, n := range map[string]int{root: 300_001, boot: 40_000} {
		b := make([]byte, n)
		rand.Read(b)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			e.t.Fatal(err)
		}
	}
	out := filepath.Join(e.t.TempDir(), "update")
	if _, err := archive.SignUpdateDir(key, wire.UpdateManifest{Serial: serial, Version: version, Built: e.clock.Now(), Arch: "arm64"}, root, boot, out); err != nil {
		e.t.Fatal(err)
	}
	return out
}

func (e *updEnv) publish(serial uint64) string {
	e.t.Helper()
	d := e.build(e.updateKey(), serial, fmt.Sprintf("2026.12.%d", serial))
	if _, err := e.a.Publish(context.Background(), d, "ops"); err != nil {
		e.t.Fatal(err)
	}
	return d
}

func running(serial uint64) wire.Health {
	return wire.Health{Version: "test", ClockSynced: true, FirmwareSerial: serial}
}

// TestUpdatePublishRefuses: publish takes only an update the archive's
// update key signed, whose files are the ones signed, under a serial not
// published before; what it takes is copied into the archive's
// directory, private. Before: no update key, no publish (did not compile).
func TestUpdatePublishRefuses(t *testing.T) {
	e := newUpdEnv(t, nil)
	ctx := context.Background()
	key := e.updateKey()
	if fi, err := os.Stat(filepath.Join(e.dir, archive.UpdateKeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("update key file: %v %v", fi.Mode(), err)
	}

	// Signed by another key.
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := e.a.Publish(ctx, e.build(other, 5, "v5"), "ops"); !errors.Is(err, archive.ErrUpdateSignature) {
		t.Fatalf("an update signed by another key: %v", err)
	}
	// A file changed after signing (same size).
	d := e.build(key, 5, "v5")
	p := filepath.Join(d, archive.UpdateRootFile)
	b, _ := os.ReadFile(p)
	b[1000] ^= 1
	os.WriteFile(p, b, 0o600)
	if _, err := e.a.Publish(ctx, d, "ops"); err == nil || !strings.Contains(err.Error(), "does not hash to the manifest") {
		t.Fatalf("a root file changed after signing: %v", err)
	}
	// A file of another size: refused before it is read.
	os.WriteFile(filepath.Join(d, archive.UpdateBootFile), []byte("short"), 0o600)
	if _, err := e.a.Publish(ctx, d, "ops"); err == nil || !strings.Contains(err.Error(), "boot.fat is 5 bytes, the manifest says 40000") {
		t.Fatalf("a boot file of another size: %v", err)
	}
	if _, err := e.a.Index.Update(ctx, 5); !errors.Is(err, index.ErrNoUpdate) {
		t.Fatalf("a refused update is in the index: %v", err)
	}

	// A good one: published, its files private in the archive's directory.
	m, err := e.a.Publish(ctx, e.build(key, 5, "v5"), "ops")
	if err != nil || m.Serial != 5 {
		t.Fatal(m, err)
	}
	ud := filepath.Join(e.dir, "updates", "5")
	if fi, err := os.Stat(ud); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("update directory: %v %v", fi.Mode(), err)
	}
	for _, f := range []string{archive.UpdateManifestFile, archive.UpdateRootFile, archive.UpdateBootFile} {
		if fi, err := os.Stat(filepath.Join(ud, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", f, fi.Mode(), err)
		}
	}
	// The serial again, another build or the same: refused.
	if _, err := e.a.Publish(ctx, e.build(key, 5, "v5-rebuilt"), "ops"); !errors.Is(err, archive.ErrUpdatePublished) {
		t.Fatalf("serial 5 again (another build): %v", err)
	}
	if _, err := e.a.Publish(ctx, e.build(key, 5, "v5"), "ops"); !errors.Is(err, archive.ErrUpdatePublished) {
		t.Fatalf("serial 5 again: %v", err)
	}
	if n := events(t, e.a, "update_published"); n != 1 {
		t.Fatalf("%d update_published events", n)
	}
}

func events(t *testing.T, a *archive.Archive, kind string) int {
	evs, err := a.Index.Events(context.Background(), kind, false)
	if err != nil {
		t.Fatal(err)
	}
	return len(evs)
}

// TestUpdateRolloutWaves: the canary alone is offered the update; once it
// confirms, wave 1 is the percentage (the boxes Waves picks), then every
// other box; a box running the serial (or above) is offered nothing and
// counts as done; the rollout ends when every wave is. Before: no
// rollouts (did not compile).
func TestUpdateRolloutWaves(t *testing.T) {
	e := newUpdEnv(t, nil)
	ctx := context.Background()
	var names []string
	for i := range 10 {
		n := fmt.Sprintf("branch-%02d", i)
		e.box(n)
		names = append(names, n)
		e.checkIn(n, running(1))
	}
	e.publish(2)
	r, err := e.roll(archive.RollOptions{Serial: 2, Canary: "branch-03", Percent: 30, Threshold: 0.5, ConfirmWithin: 20 * time.Minute, By: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := e.a.UpdatePublicKey()
	pk, _ := wire.ParseUpdateKey(pub)
	offers := func(h func(string) wire.Health) map[string]bool {
		got := map[string]bool{}
		for _, n := range names {
			rep := e.checkIn(n, h(n))
			if rep.Update == nil {
				continue
			}
			got[n] = true
			m, err := wire.VerifyUpdate(pk, rep.Update.Update)
			if err != nil || m.Serial != 2 || rep.Update.Rollout != r.ID || time.Duration(rep.Update.ConfirmWithin) != 20*time.Minute {
				t.Fatalf("offer to %s: %+v %v", n, rep.Update, err)
			}
		}
		return got
	}
	state := map[string]wire.Health{}
	health := func(n string) wire.Health {
		if h, ok := state[n]; ok {
			return h
		}
		return running(1)
	}
	confirm := func(n string) {
		state[n] = wire.Health{ClockSynced: true, FirmwareSerial: 2, UpdateState: wire.UpdateConfirmed, UpdateSerial: 2, UpdateRollout: r.ID, BootedAt: e.clock.Now()}
	}
	// Wave 0: the canary alone, as often as it checks in until it confirms.
	for range 2 {
		if got := offers(health); len(got) != 1 || !got["branch-03"] {
			t.Fatalf("wave 0 offers to %v, want the canary alone", got)
		}
	}
	state["branch-03"] = wire.Health{ClockSynced: true, FirmwareSerial: 2, UpdateState: wire.UpdateTrying, UpdateSerial: 2, UpdateRollout: r.ID}
	if got := offers(health); len(got) != 0 {
		t.Fatalf("offers %v while the canary tries the update", got)
	}
	confirm("branch-03")
	e.checkIn("branch-03", health("branch-03"))

	// Wave 1: 30 % of ten boxes, the ones Waves picks.
	want1 := map[string]bool{}
	for _, b := range archive.Waves(2, names, "branch-03", 30) {
		if b.Wave == 1 {
			want1[b.Appliance] = true
		}
	}
	got := offers(health)
	if len(got) != 3 || fmt.Sprint(got) != fmt.Sprint(want1) {
		t.Fatalf("wave 1 offers to %v, want %v", got, want1)
	}
	var rest []string
	for _, n := range names {
		if !want1[n] && n != "branch-03" {
			rest = append(rest, n)
		}
	}
	// One of wave 1 downloads; the others confirm; the wave waits for it.
	var slow string
	for n := range want1 {
		if slow == "" {
			slow = n
			state[n] = wire.Health{ClockSynced: true, FirmwareSerial: 1, UpdateState: wire.UpdateDownloading, UpdateSerial: 2, UpdateRollout: r.ID}
			continue
		}
		confirm(n)
	}
	if got := offers(health); len(got) != 1 || !got[slow] {
		t.Fatalf("offers %v while %s downloads: want it alone (wave 2 waits)", got, slow)
	}
	confirm(slow)
	// Wave 2: the rest, but for a box that runs serial 2 already and one
	// that runs serial 3: neither is offered serial 2.
	state[rest[0]] = running(2)
	state[rest[1]] = running(3)
	offers(health) // the slow box confirms, wave 2 begins
	got = offers(health)
	if len(got) != len(rest)-2 || got[rest[0]] || got[rest[1]] {
		t.Fatalf("wave 2 offers to %v, want %v but the first two", got, rest)
	}
	for _, n := range rest[2:] {
		confirm(n)
	}
	offers(health)
	st, err := e.a.Rollout(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != index.RolloutDone || st.Waves[0].Confirmed != 1 || st.Waves[1].Confirmed != 3 || st.Waves[2].Confirmed != 5 || st.Waves[2].Skipped != 1 {
		t.Fatalf("rollout after every box confirmed: %s, waves %+v", st.State, st.Waves)
	}
	if len(e.alerted("update_rollout_stopped")) != 0 {
		t.Fatal("a rollout that went well alerted")
	}
}

// TestUpdateRolloutStopsOnFailures: a wave whose failures exceed the
// threshold stops the rollout by itself, as an alert, and nothing more is
// offered or downloadable; a canary that never confirms fails at the
// deadline and stops its rollout. Before: did not compile.
func TestUpdateRolloutStopsOnFailures(t *testing.T) {
	e := newUpdEnv(t, nil)
	ctx := context.Background()
	var names []string
	for i := range 5 {
		n := fmt.Sprintf("box-%d", i)
		e.box(n)
		names = append(names, n)
		e.checkIn(n, running(1))
	}
	e.publish(2)
	r, err := e.roll(archive.RollOptions{Serial: 2, Canary: "box-0", Percent: 40, Threshold: 0.4, ConfirmWithin: 20 * time.Minute, By: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	if rep := e.checkIn("box-0", running(1)); rep.Update == nil {
		t.Fatal("the canary got no offer")
	}
	e.checkIn("box-0", wire.Health{FirmwareSerial: 2, UpdateState: wire.UpdateConfirmed, UpdateSerial: 2})
	var wave1 []string
	for _, n := range names[1:] {
		if rep := e.checkIn(n, running(1)); rep.Update != nil {
			wave1 = append(wave1, n)
		}
	}
	if len(wave1) != 2 {
		t.Fatalf("wave 1 of 40 %% of 5 boxes: %v", wave1)
	}
	// One of two rolls back: 50 % failed, over 40 %.
	e.checkIn(wave1[0], wire.Health{FirmwareSerial: 1, UpdateState: wire.UpdateRolledBack, UpdateSerial: 2, UpdateRollout: r.ID,
		UpdateFailure: "2026.12.2 did not confirm within 20m: booted the previous root again"})
	st, _ := e.a.Rollout(ctx, r.ID)
	if st.State != index.RolloutStopped || !strings.Contains(st.EndReason, "1 of 2 boxes failed") {
		t.Fatalf("rollout after half of wave 1 failed: %s %q", st.State, st.EndReason)
	}
	if al := e.alerted("update_rollout_stopped"); len(al) != 1 || !strings.Contains(al[0].Detail, "over the threshold of 0.4") {
		t.Fatalf("stop alerts: %+v", al)
	}
	for _, b := range st.Boxes {
		if b.Appliance == wave1[0] && (b.State != archive.BoxFailed || !strings.Contains(b.Reason, "booted the previous root")) {
			t.Fatalf("failed box: %+v", b)
		}
	}
	// Nothing more: no offer, no download.
	for _, n := range names {
		if rep := e.checkIn(n, running(1)); rep.Update != nil && n != "box-0" {
			t.Fatalf("%s offered an update of a stopped rollout", n)
		}
	}
	if resp, _ := e.get(wave1[1], archive.PathUpdate+"2/root"); resp.StatusCode != 403 {
		t.Fatalf("download from a stopped rollout: %d", resp.StatusCode)
	}

	// A canary that never confirms: failed at the deadline, the rollout
	// stopped, alerted.
	e.publish(3)
	r2, err := e.roll(archive.RollOptions{Serial: 3, Canary: "box-1", Percent: 100, ConfirmWithin: 20 * time.Minute, Deadline: 48 * time.Hour, By: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	if rep := e.checkIn("box-1", running(1)); rep.Update == nil || rep.Update.Rollout != r2.ID {
		t.Fatalf("canary of rollout %d: %+v", r2.ID, rep.Update)
	}
	e.clock.Add(47 * time.Hour)
	if err := e.a.AdvanceRollouts(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := e.a.Rollout(ctx, r2.ID); st.State != index.RolloutActive {
		t.Fatalf("rollout before the deadline: %s", st.State)
	}
	e.clock.Add(2 * time.Hour)
	if err := e.a.AdvanceRollouts(ctx); err != nil {
		t.Fatal(err)
	}
	st, _ = e.a.Rollout(ctx, r2.ID)
	if st.State != index.RolloutStopped || st.Boxes[0].State != archive.BoxFailed || !strings.Contains(st.Boxes[0].Reason, "not confirmed within 48h0m0s") {
		t.Fatalf("rollout after the canary's deadline: %s %+v", st.State, st.Boxes[0])
	}
	if len(e.alerted("update_rollout_stopped")) != 2 || len(e.alerted("update_failed")) != 1 {
		t.Fatalf("alerts: %+v", e.alerts)
	}
}

// TestUpdateDownload: a box without an offer of the serial is refused
// (403, said why); a box with one downloads both files, resuming with
// Range, and the bytes hash to the signed manifest. Before: no such
// endpoint (did not compile).
func TestUpdateDownload(t *testing.T) {
	e := newUpdEnv(t, nil)
	e.box("canary")
	e.box("other")
	e.checkIn("canary", running(1))
	e.checkIn("other", running(1))
	d := e.publish(7)
	if resp, _ := e.get("canary", archive.PathUpdate+"7/root"); resp.StatusCode != 403 || resp.Header.Get(wire.HeaderError) != archive.RefuseNoOffer {
		t.Fatalf("download before any rollout: %d %q", resp.StatusCode, resp.Header.Get(wire.HeaderError))
	}
	if _, err := e.roll(archive.RollOptions{Serial: 7, Canary: "canary", Percent: 10, ConfirmWithin: 20 * time.Minute, By: "ops"}); err != nil {
		t.Fatal(err)
	}
	rep := e.checkIn("canary", running(1))
	if rep.Update == nil {
		t.Fatal("no offer")
	}
	e.checkIn("other", running(1))
	if resp, body := e.get("other", archive.PathUpdate+"7/root"); resp.StatusCode != 403 || !strings.Contains(string(body), "no update offer") {
		t.Fatalf("download by a box outside the wave: %d %s", resp.StatusCode, body)
	}
	if resp, _ := e.get("canary", archive.PathUpdate+"8/root"); resp.StatusCode != 403 {
		t.Fatalf("download of another serial: %d", resp.StatusCode)
	}
	if resp, _ := e.get("canary", archive.PathUpdate+"7/kernel"); resp.StatusCode != 404 {
		t.Fatalf("download of another part: %d", resp.StatusCode)
	}
	if resp, _ := e.get("canary", archive.PathUpdate+"99999999999999999999/root"); resp.StatusCode != 400 {
		t.Fatalf("download of a serial beyond 63 bits: %d", resp.StatusCode)
	}
	// Without a certificate: refused like every /sync/v1 request.
	anon := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: e.pool, CurvePreferences: wire.KeyExchanges()}}}
	defer anon.CloseIdleConnections()
	if resp, err := anon.Get("https://" + e.addr + archive.PathUpdate + "7/root"); err != nil || resp.StatusCode != 401 {
		t.Fatalf("download without a certificate: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	pk, _ := e.a.UpdatePublicKey()
	key, _ := wire.ParseUpdateKey(pk)
	m, err := wire.VerifyUpdate(key, rep.Update.Update)
	if err != nil {
		t.Fatal(err)
	}
	// The first 100000 bytes, then a cut link, then the rest from there.
	resp, first := e.get("canary", archive.PathUpdate+"7/root", "Range", "bytes=0-99999")
	if resp.StatusCode != http.StatusPartialContent || len(first) != 100000 {
		t.Fatalf("first range: %d, %d bytes", resp.StatusCode, len(first))
	}
	resp, rest := e.get("canary", archive.PathUpdate+"7/root", "Range", "bytes=100000-")
	if resp.StatusCode != http.StatusPartialContent || resp.Header.Get("Content-Range") != fmt.Sprintf("bytes 100000-%d/%d", m.Root.Size-1, m.Root.Size) {
		t.Fatalf("resumed range: %d %q", resp.StatusCode, resp.Header.Get("Content-Range"))
	}
	if sum := sha256.Sum256(append(first, rest...)); !bytes.Equal(sum[:], m.Root.SHA256) {
		t.Fatal("the resumed root does not hash to the manifest")
	}
	_, boot := e.get("canary", archive.PathUpdate+"7/boot")
	if sum := sha256.Sum256(boot); !bytes.Equal(sum[:], m.Boot.SHA256) {
		t.Fatal("the boot file does not hash to the manifest")
	}
	if orig, _ := os.ReadFile(filepath.Join(d, archive.UpdateBootFile)); !bytes.Equal(orig, boot) {
		t.Fatal("the boot file served is not the one built")
	}
	// Once the box tries it, nothing more to download.
	e.checkIn("canary", wire.Health{FirmwareSerial: 7, UpdateState: wire.UpdateTrying, UpdateSerial: 7})
	if resp, _ := e.get("canary", archive.PathUpdate+"7/boot"); resp.StatusCode != 403 {
		t.Fatalf("download after the box runs the update: %d", resp.StatusCode)
	}
}

// TestUpdateKeyAtEnrollment: enroll writes the update key's public half
// as update.pub beside policy.pub, and the sync.toml it writes pins it:
// the box's own configuration parser reads sync.update_key from it.
// Before: the line was written commented out ("# update_key = ..."), and
// a box configured from it refused every update (no key pinned).
func TestUpdateKeyAtEnrollment(t *testing.T) {
	e := newUpdEnv(t, nil)
	r, err := e.a.Enroll(context.Background(), "branch-k", filepath.Join(t.TempDir(), "k"), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(r.Dir, "update.pub"))
	if err != nil {
		t.Fatal(err)
	}
	pk, _ := e.a.UpdatePublicKey()
	if strings.TrimSpace(string(b)) != pk {
		t.Fatalf("update.pub %q, the archive's key %q", b, pk)
	}
	if _, err := wire.ParseUpdateKey(string(b)); err != nil {
		t.Fatal(err)
	}
	if pol, _ := e.a.PolicyPublicKey(); pol == pk {
		t.Fatal("the update key is the policy key")
	}
	section, err := os.ReadFile(filepath.Join(r.Dir, "sync.toml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(append([]byte("[vault]\ndir = \"v\"\nrecipients = \"r\"\n"), section...), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := filepath.Abs(filepath.Join(r.Dir, "update.pub")); cfg.Sync.UpdateKey != want {
		t.Fatalf("the box's sync.update_key from sync.toml: %q, want %q\n%s", cfg.Sync.UpdateKey, want, section)
	}
}

// TestUpdateKeyAtZeroTouchEnrollment: a box enrolled without touching it
// receives the update key with its certificates. Before: UpdateKey was
// empty.
func TestUpdateKeyAtZeroTouchEnrollment(t *testing.T) {
	e := newUpdEnv(t, nil)
	csr := func() ([]byte, any) {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		b, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, k)
		if err != nil {
			t.Fatal(err)
		}
		return b, k.Public()
	}
	c, pub := csr()
	api, _ := csr()
	code, err := wire.EnrollCode(pub)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: e.pool, CurvePreferences: wire.KeyExchanges()}}}
	defer hc.CloseIdleConnections()
	ask := func() wire.EnrollReply {
		b, _ := json.Marshal(wire.EnrollRequest{CSR: c, APICSR: api})
		resp, err := hc.Post("https://"+e.addr+wire.PathEnroll, "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var rep wire.EnrollReply
		if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
			t.Fatal(err)
		}
		return rep
	}
	if rep := ask(); rep.State != wire.EnrollPending || rep.Code != code {
		t.Fatalf("first request: %+v", rep)
	}
	if err := e.a.Approve(context.Background(), code, "branch-z", "admin", ""); err != nil {
		t.Fatal(err)
	}
	rep := ask()
	want, _ := e.a.UpdatePublicKey()
	if rep.State != wire.EnrollApproved || rep.UpdateKey != want || rep.PolicyKey == want {
		t.Fatalf("approved reply: state %s, update key %q (want %q), policy key %q", rep.State, rep.UpdateKey, want, rep.PolicyKey)
	}
}

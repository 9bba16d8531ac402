package client_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/internal/testkit"
	"github.com/spanvault/spanvault/sync/client"
	"github.com/spanvault/spanvault/sync/wire"
)

// serveObserved serves a's own server (a.Server: its TLS, handler and
// deadlines, as Serve runs it) on another loopback port, recording the
// update downloads it receives, until the test ends.
func serveObserved(t testing.TB, a *archive.Archive) (string, *testkit.RequestLog) {
	t.Helper()
	srv, err := a.Server()
	if err != nil {
		t.Fatal(err)
	}
	log := testkit.LogRequests(srv, archive.PathUpdate)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return ln.Addr().String(), log
}

// updateBox is e's box, running firmware 7 for arm64 with the update key
// of its enrollment pinned (update.pub: the archive's), as the daemon
// runs it. It reaches e's real archive (serveObserved) through a link
// that can be cut (testkit.CutProxy); the updates it is offered come
// from the archive's own rollouts.
type updateBox struct {
	e       *env
	key     ed25519.PrivateKey // the archive's update key, as make image reads it
	link    *testkit.CutProxy
	reqs    *testkit.RequestLog
	c       *client.Client
	offered []client.Update
}

// updateBox starts e's box; pin is the update key file it pins ("": the
// one its enrollment wrote).
func (e *env) updateBox(t *testing.T, pin string) *updateBox {
	addr, reqs := serveObserved(t, e.arch)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &updateBox{e: e, reqs: reqs, link: testkit.StartCutProxy(t, ln, addr)}
	if b.key, err = archive.ReadUpdateKey(filepath.Join(e.dir, archive.UpdateKeyFile)); err != nil {
		t.Fatal(err)
	}
	if pin == "" {
		pin = filepath.Join(e.enroll, "update.pub")
	}
	cc := e.config()
	cc.Archives = []string{b.link.Addr}
	cc.UpdateKey = pin
	cc.Firmware = client.Firmware{Serial: 7, Arch: "arm64"}
	cc.OnUpdate = func(u client.Update) error {
		if u.Manifest != nil {
			b.offered = append(b.offered, u)
		}
		return nil
	}
	if b.c, err = client.New(cc, e.v); err != nil {
		t.Fatal(err)
	}
	return b
}

// build signs a firmware build (root and boot) into an update directory
// with key, as `spanvault-archive update sign` does.
func (e *env) build(t *testing.T, key ed25519.PrivateKey, serial uint64, arch string, root, boot []byte) string {
	t.Helper()
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "root"), root, 0o600)
	os.WriteFile(filepath.Join(src, "boot"), boot, 0o600)
	out := filepath.Join(t.TempDir(), "update")
	m := wire.UpdateManifest{Serial: serial, Version: fmt.Sprintf("2026.12.06-%d", serial), Built: e.clock.Now(), Arch: arch}
	if _, err := archive.SignUpdateDir(key, m, filepath.Join(src, "root"), filepath.Join(src, "boot"), out); err != nil {
		t.Fatal(err)
	}
	return out
}

// publish signs serial with the archive's update key and publishes it.
func (b *updateBox) publish(t *testing.T, serial uint64, arch string, root, boot []byte) {
	t.Helper()
	if _, err := b.e.arch.Publish(context.Background(), b.e.build(t, b.key, serial, arch, root, boot), "ops"); err != nil {
		t.Fatal(err)
	}
}

// roll rolls serial out to this box alone (it is its own canary).
func (b *updateBox) roll(t *testing.T, serial uint64) (*index.Rollout, error) {
	return b.e.arch.Roll(context.Background(), archive.RollOptions{Serial: serial, Target: "box:" + b.e.box,
		ConfirmWithin: 20 * time.Minute, By: "ops"})
}

func (b *updateBox) mustRoll(t *testing.T, serial uint64) int64 {
	t.Helper()
	r, err := b.roll(t, serial)
	if err != nil {
		t.Fatal(err)
	}
	return r.ID
}

// offerOf is the offer the archive makes of serial in rollout id: its
// stored signed manifest.
func (b *updateBox) offerOf(t *testing.T, serial uint64, id int64) *wire.UpdateOffer {
	t.Helper()
	u, err := b.e.arch.Index.Update(context.Background(), serial)
	if err != nil {
		t.Fatal(err)
	}
	var su wire.SignedUpdate
	if err := json.Unmarshal([]byte(u.Signed), &su); err != nil {
		t.Fatal(err)
	}
	return &wire.UpdateOffer{Rollout: id, Update: su, ConfirmWithin: wire.Duration(20 * time.Minute)}
}

// rolloutBox is the box's row in rollout id.
func (b *updateBox) rolloutBox(t *testing.T, id int64) (*archive.RolloutStatus, index.RolloutBox) {
	t.Helper()
	st, err := b.e.arch.Rollout(context.Background(), id)
	if err != nil || len(st.Boxes) != 1 {
		t.Fatalf("rollout %d: %+v %v", id, st, err)
	}
	return st, st.Boxes[0]
}

func (b *updateBox) checkIn(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := b.c.Pass(ctx, client.Options{Upload: false}); err != nil {
		t.Fatal(err)
	}
}

// TestUpdateOfferRefused: an offer signed by another key than the one
// the box pins, a downgrade, the build the box runs, and a build for
// another architecture are each refused before anything is downloaded,
// audited on the box, and reported at the pass's closing check-in with
// the reason; a repeated offer is not audited twice.
//
// The real archive makes two of these offers (its update key is not the
// one the box pins; a build for amd64 rolled to an arm64 box: it does
// not know the box's architecture) and marks the box failed with the
// box's reason. It refuses the others first: it publishes nothing its
// own key did not sign, never offers a serial at or below the one a box
// runs (the box is skipped or counts as confirmed; a second roll is
// refused), and stops offering once the box failed. For those the
// archive's refusal is asserted and the box is fed the archive's signed
// manifest directly (Client.HandleUpdate).
func TestUpdateOfferRefused(t *testing.T) {
	root, boot := []byte("root fs"), []byte("boot fs")
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	ctx := context.Background()
	for _, c := range []struct {
		name   string
		serial uint64
		arch   string
		why    string
		direct bool // the archive does not offer it: fed to the box
	}{
		{"another key", 8, "arm64", "not signed by the pinned update key", false},
		{"downgrade", 6, "arm64", "serial 6 is not above serial 7 running", true},
		{"same serial", 7, "arm64", "serial 7 is not above serial 7 running", true},
		{"another arch", 8, "amd64", "built for amd64, this box is arm64", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			pin := ""
			if c.name == "another key" {
				// The archive publishes nothing another key signed.
				if _, err := e.arch.Publish(ctx, e.build(t, other, c.serial, c.arch, root, boot), "ops"); !errors.Is(err, archive.ErrUpdateSignature) {
					t.Fatalf("the archive published an update signed by another key: %v", err)
				}
				// The box pins another key than the archive's.
				pub := other.Public().(ed25519.PublicKey)
				pin = filepath.Join(t.TempDir(), "update.pub")
				os.WriteFile(pin, []byte(base64.StdEncoding.EncodeToString(pub)+"\n"), 0o644)
			}
			b := e.updateBox(t, pin)
			b.publish(t, c.serial, c.arch, root, boot)
			id := b.mustRoll(t, c.serial)
			b.checkIn(t)
			if c.direct {
				// The archive offered nothing: the box runs the serial or
				// above it (skipped, or confirmed as running it already).
				if len(b.offered) != 0 || e.boxAudit(t, "update_refused") != nil {
					t.Fatalf("the archive offered serial %d to a box running 7: %+v", c.serial, b.offered)
				}
				if _, rb := b.rolloutBox(t, id); rb.State != archive.BoxSkipped && rb.State != archive.BoxConfirmed {
					t.Fatalf("rollout box %+v", rb)
				}
				if _, err := b.roll(t, c.serial); err == nil || !strings.Contains(err.Error(), "runs serial 7 already") {
					t.Fatalf("a rollout of serial %d to a box running 7: %v", c.serial, err)
				}
				if _, err := b.c.HandleUpdate(b.offerOf(t, c.serial, id)); err != nil {
					t.Fatal(err)
				}
				b.checkIn(t)
			}
			if len(b.offered) != 0 {
				t.Fatalf("offer handed to the daemon: %+v", b.offered)
			}
			if g := b.reqs.Lines(); len(g) != 0 {
				t.Fatalf("downloaded before verification: %v", g)
			}
			h := e.archiveHealth()
			if h.UpdateState != wire.UpdateRefused || h.UpdateSerial != c.serial || h.UpdateRollout != id || !strings.Contains(h.UpdateFailure, c.why) || h.FirmwareSerial != 7 {
				t.Fatalf("reported %+v, want refused %d: %q", h, c.serial, c.why)
			}
			if !c.direct {
				// The archive took the box's refusal as its failure, with
				// its reason; the canary failed: the rollout stopped.
				st, rb := b.rolloutBox(t, id)
				if rb.State != archive.BoxFailed || !strings.Contains(rb.Reason, c.why) || st.State != index.RolloutStopped {
					t.Fatalf("rollout %s, box %+v", st.State, rb)
				}
			}
			au := e.boxAudit(t, "update_refused")
			if len(au) != 1 || !strings.Contains(au[0], c.why) {
				t.Fatalf("audit %q", au)
			}
			// The archive offers nothing more; the same offer again (fed
			// to the box) is not audited twice.
			b.checkIn(t)
			if _, err := b.c.HandleUpdate(b.offerOf(t, c.serial, id)); err != nil {
				t.Fatal(err)
			}
			b.checkIn(t)
			if au := e.boxAudit(t, "update_refused"); len(au) != 1 {
				t.Fatalf("a repeated offer audited again: %q", au)
			}
			if h := e.archiveHealth(); h.UpdateState != wire.UpdateRefused {
				t.Fatalf("later check-in reports %+v", h)
			}
		})
	}
}

// TestUpdateOfferAccepted: a verified offer of the archive's rollout
// reaches the daemon with its rollout and confirmation time; nothing is
// refused.
func TestUpdateOfferAccepted(t *testing.T) {
	e := newEnv(t)
	b := e.updateBox(t, "")
	b.publish(t, 8, "arm64", []byte("root fs"), []byte("boot fs"))
	id := b.mustRoll(t, 8)
	b.checkIn(t)
	if len(b.offered) == 0 || b.offered[0].Manifest.Serial != 8 || b.offered[0].Rollout != id || b.offered[0].ConfirmWithin != 20*time.Minute {
		t.Fatalf("offered %+v", b.offered)
	}
	if au := e.boxAudit(t, "update_refused"); len(au) != 0 {
		t.Fatalf("refused: %q", au)
	}
	if _, rb := b.rolloutBox(t, id); rb.State != archive.BoxOffered {
		t.Fatalf("rollout box %+v", rb)
	}
	// A rolled-back serial is not tried again: the archive marks the box
	// failed with its reason and offers nothing more; the offer fed to
	// the box again is not handed to the daemon.
	b.offered = nil
	if err := b.c.SetUpdateReport(client.UpdateReport{State: wire.UpdateRolledBack, Serial: 8, Rollout: id, Failure: "did not confirm"}); err != nil {
		t.Fatal(err)
	}
	b.checkIn(t)
	if _, err := b.c.HandleUpdate(b.offerOf(t, 8, id)); err != nil {
		t.Fatal(err)
	}
	if len(b.offered) != 0 {
		t.Fatal("a rolled-back serial was offered to the daemon again")
	}
	if h := e.archiveHealth(); h.UpdateState != wire.UpdateRolledBack || h.UpdateFailure != "did not confirm" {
		t.Fatalf("reported %+v", h)
	}
	if st, rb := b.rolloutBox(t, id); rb.State != archive.BoxFailed || rb.Reason != "did not confirm" || st.State != index.RolloutStopped {
		t.Fatalf("rollout %s, box %+v", st.State, rb)
	}
}

// TestFetchUpdateRange: the files come from the archive over the box's
// mutual TLS once it is offered the update; a download whose connection
// is cut mid-way resumes with Range from where it stopped, and each byte
// crosses the link once but those lost in flight. An update not offered
// is refused.
func TestFetchUpdateRange(t *testing.T) {
	e := newEnv(t)
	b := e.updateBox(t, "")
	root := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	b.publish(t, 8, "arm64", root, []byte("boot"))
	b.mustRoll(t, 8)
	b.checkIn(t) // offered
	const cut = 300 << 10
	b.link.CutAfter(cut)
	ctx := context.Background()
	rc, err := b.c.FetchUpdate(ctx, 8, "root", 0)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	_, err = io.Copy(&got, rc)
	rc.Close()
	if err == nil || got.Len() == 0 || got.Len() > cut || b.link.Cuts() != 1 {
		t.Fatalf("cut download: %d bytes, %v", got.Len(), err)
	}
	first := int64(got.Len())
	before := b.link.Down()
	rc, err = b.c.FetchUpdate(ctx, 8, "root", first)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(&got, rc); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if !bytes.Equal(got.Bytes(), root) {
		t.Fatal("resumed download differs")
	}
	// Sent again: only what the cut lost in flight (at most a TLS record
	// and the response head); the rest once, with the new connection's
	// handshake and the TLS records' overhead.
	resumed := b.link.Down() - before
	if lost := cut - first; lost > 24<<10 {
		t.Fatalf("the box received %d of the %d bytes that crossed before the cut", first, cut)
	}
	if over := resumed - (int64(len(root)) - first); over < 0 || over > 16<<10 {
		t.Fatalf("the resumed download took %d bytes on the link for %d bytes of the file", resumed, int64(len(root))-first)
	}
	t.Logf("cut after %d bytes on the link: %d received, %d lost in flight; resumed: %d bytes on the link for %d of the file", cut, first, cut-first, resumed, int64(len(root))-first)
	if g := b.reqs.Lines(); len(g) != 2 || g[0] != "GET /sync/v1/update/8/root " || g[1] != fmt.Sprintf("GET /sync/v1/update/8/root bytes=%d-", first) {
		t.Fatalf("requests %q", g)
	}
	if _, err := b.c.FetchUpdate(ctx, 8, "../etc", 0); err == nil {
		t.Fatal("a part outside root and boot was fetched")
	}
	var re *client.RemoteError
	if _, err := b.c.FetchUpdate(ctx, 9, "root", 0); !errors.As(err, &re) || re.Status != http.StatusForbidden || !strings.Contains(err.Error(), "no update offer") {
		t.Fatalf("an update not offered: %v", err)
	}
}

// TestEnrollPinsUpdateKey: zero-touch enrollment keeps the update key the
// archive sends (update.pub) and names it in the [sync] section the box
// runs with.
func TestEnrollPinsUpdateKey(t *testing.T) {
	e := newEnv(t)
	key, err := e.arch.UpdatePublicKey()
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.enrollConfig(t)
	st, err := enrollOnce(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.arch.Approve(context.Background(), st.Code, "branch-upd", "admin", ""); err != nil {
		t.Fatal(err)
	}
	if st, err := enrollOnce(t, cfg); err != nil || st.State != wire.EnrollApproved {
		t.Fatalf("%+v %v", st, err)
	}
	b, err := os.ReadFile(filepath.Join(cfg.Dir, client.UpdateKeyFile))
	if err != nil || strings.TrimSpace(string(b)) != key {
		t.Fatalf("update.pub: %q %v", b, err)
	}
	toml, _ := os.ReadFile(filepath.Join(cfg.Dir, client.EnrolledFile))
	if !strings.Contains(string(toml), "update_key = \""+filepath.Join(cfg.Dir, client.UpdateKeyFile)+"\"") {
		t.Fatalf("enrolled.toml:\n%s", toml)
	}
}

// TestUpdateRolledOutAgain: an operator rolls out again a serial the box
// refused or rolled back (a new rollout of the same build). The box does
// not try it again (a refusal stands, a rolled-back serial is not tried
// again) and says so for the new rollout, so that the archive marks the
// box failed in it at once with the box's reason. Before: the box kept
// reporting the first rollout's ID (a repeated refusal "said so
// already"; a rolled-back serial was ignored silently), so the archive
// took the report as about another rollout and kept the box "offered"
// until the rollout's deadline (48 hours), its wave held up.
func TestUpdateRolledOutAgain(t *testing.T) {
	for _, c := range []struct {
		name, arch, state, why string
	}{
		{"refused", "amd64", wire.UpdateRefused, "built for amd64, this box is arm64"},
		{"rolled back", "arm64", wire.UpdateRolledBack, "did not confirm"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			b := e.updateBox(t, "")
			b.publish(t, 8, c.arch, []byte("root fs"), []byte("boot fs"))
			first := b.mustRoll(t, 8)
			b.checkIn(t)
			if c.state == wire.UpdateRolledBack {
				if len(b.offered) != 1 {
					t.Fatalf("offered %+v", b.offered)
				}
				if err := b.c.SetUpdateReport(client.UpdateReport{State: wire.UpdateRolledBack, Serial: 8, Rollout: first, Failure: c.why}); err != nil {
					t.Fatal(err)
				}
				b.checkIn(t)
			}
			if st, rb := b.rolloutBox(t, first); rb.State != archive.BoxFailed || st.State != index.RolloutStopped {
				t.Fatalf("first rollout %s, box %+v", st.State, rb)
			}
			b.offered = nil
			again := b.mustRoll(t, 8)
			b.checkIn(t)
			b.checkIn(t)
			if len(b.offered) != 0 {
				t.Fatalf("serial 8 handed to the daemon again: %+v", b.offered)
			}
			if h := e.archiveHealth(); h.UpdateState != c.state || h.UpdateSerial != 8 || h.UpdateRollout != again || !strings.Contains(h.UpdateFailure, c.why) {
				t.Fatalf("reported %+v, want %s of 8 in rollout %d", h, c.state, again)
			}
			if st, rb := b.rolloutBox(t, again); rb.State != archive.BoxFailed || !strings.Contains(rb.Reason, c.why) || st.State != index.RolloutStopped {
				t.Fatalf("the rollout again: %s, box %+v", st.State, rb)
			}
		})
	}
}

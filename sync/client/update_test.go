package client_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/internal/updatetest"
	"github.com/spanvault/spanvault/sync/client"
	"github.com/spanvault/spanvault/sync/wire"
)

// updateBox is e's box behind the update shim (a real archive that also
// offers updates), running firmware 7 for arm64 with the update key
// pinned, as the daemon runs it.
type updateBox struct {
	e       *env
	shim    *updatetest.Shim
	key     ed25519.PrivateKey
	c       *client.Client
	offered []client.Update
}

func (e *env) updateBox(t *testing.T) *updateBox {
	b := &updateBox{e: e, shim: updatetest.Start(t, func() *archive.Archive { return e.arch })}
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	b.key = key
	kf := filepath.Join(t.TempDir(), "update.pub")
	os.WriteFile(kf, []byte(base64.StdEncoding.EncodeToString(pub)+"\n"), 0o644)
	cc := e.config()
	cc.Archives = []string{b.shim.Addr}
	cc.UpdateKey = kf
	cc.Firmware = client.Firmware{Serial: 7, Arch: "arm64"}
	cc.OnUpdate = func(u client.Update) error { b.offered = append(b.offered, u); return nil }
	var err error
	if b.c, err = client.New(cc, e.v); err != nil {
		t.Fatal(err)
	}
	return b
}

func manifest(serial uint64, arch string, root, boot []byte) wire.UpdateManifest {
	rs, bs := sha256.Sum256(root), sha256.Sum256(boot)
	return wire.UpdateManifest{Serial: serial, Version: "2026.12.06-" + string(rune('0'+serial%10)), Built: time.Now().UTC(), Arch: arch,
		Root: wire.UpdateFile{Size: int64(len(root)), SHA256: rs[:]}, Boot: wire.UpdateFile{Size: int64(len(boot)), SHA256: bs[:]}}
}

func (b *updateBox) offer(t *testing.T, key ed25519.PrivateKey, m wire.UpdateManifest) {
	su, err := wire.SignUpdate(key, m)
	if err != nil {
		t.Fatal(err)
	}
	b.shim.Offer(&wire.UpdateOffer{Rollout: 4, Update: su, ConfirmWithin: wire.Duration(20 * time.Minute)})
}

func (b *updateBox) checkIn(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := b.c.Pass(ctx, client.Options{Upload: false}); err != nil {
		t.Fatal(err)
	}
}

// TestUpdateOfferRefused: an offer signed by another key, a downgrade,
// the build the box runs, and a build for another architecture are each
// refused before anything is downloaded, audited on the box, and
// reported at the pass's closing check-in with the reason; a repeated
// offer is not audited twice.
func TestUpdateOfferRefused(t *testing.T) {
	root, boot := []byte("root fs"), []byte("boot fs")
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	for _, c := range []struct {
		name   string
		other  bool
		serial uint64
		arch   string
		why    string
	}{
		{"another key", true, 8, "arm64", "not signed by the pinned update key"},
		{"downgrade", false, 6, "arm64", "serial 6 is not above serial 7 running"},
		{"same serial", false, 7, "arm64", "serial 7 is not above serial 7 running"},
		{"another arch", false, 8, "amd64", "built for amd64, this box is arm64"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			b := e.updateBox(t)
			b.shim.Serve(c.serial, root, boot)
			key := b.key
			if c.other {
				key = other
			}
			b.offer(t, key, manifest(c.serial, c.arch, root, boot))
			b.checkIn(t)
			if len(b.offered) != 0 {
				t.Fatalf("offer handed to the daemon: %+v", b.offered)
			}
			if g := b.shim.Gets(); len(g) != 0 {
				t.Fatalf("downloaded before verification: %v", g)
			}
			h, _ := b.shim.LastHealth()
			if h.UpdateState != wire.UpdateRefused || h.UpdateSerial != c.serial || h.UpdateRollout != 4 || !strings.Contains(h.UpdateFailure, c.why) || h.FirmwareSerial != 7 {
				t.Fatalf("reported %+v, want refused %d: %q", h, c.serial, c.why)
			}
			au := e.boxAudit(t, "update_refused")
			if len(au) != 1 || !strings.Contains(au[0], c.why) {
				t.Fatalf("audit %q", au)
			}
			b.checkIn(t)
			if au := e.boxAudit(t, "update_refused"); len(au) != 1 {
				t.Fatalf("a repeated offer audited again: %q", au)
			}
			if h, _ := b.shim.LastHealth(); h.UpdateState != wire.UpdateRefused {
				t.Fatalf("later check-in reports %+v", h)
			}
		})
	}
}

// TestUpdateOfferAccepted: a verified offer reaches the daemon with its
// rollout and confirmation time; nothing is refused.
func TestUpdateOfferAccepted(t *testing.T) {
	e := newEnv(t)
	b := e.updateBox(t)
	root, boot := []byte("root fs"), []byte("boot fs")
	b.offer(t, b.key, manifest(8, "arm64", root, boot))
	b.checkIn(t)
	if len(b.offered) == 0 || b.offered[0].Manifest.Serial != 8 || b.offered[0].Rollout != 4 || b.offered[0].ConfirmWithin != 20*time.Minute {
		t.Fatalf("offered %+v", b.offered)
	}
	if au := e.boxAudit(t, "update_refused"); len(au) != 0 {
		t.Fatalf("refused: %q", au)
	}
	// A rolled-back serial is not tried again.
	b.offered = nil
	if err := b.c.SetUpdateReport(client.UpdateReport{State: wire.UpdateRolledBack, Serial: 8, Rollout: 4, Failure: "did not confirm"}); err != nil {
		t.Fatal(err)
	}
	b.checkIn(t)
	if len(b.offered) != 0 {
		t.Fatal("a rolled-back serial was offered to the daemon again")
	}
	if h, _ := b.shim.LastHealth(); h.UpdateState != wire.UpdateRolledBack || h.UpdateFailure != "did not confirm" {
		t.Fatalf("reported %+v", h)
	}
}

// TestFetchUpdateRange: the files come over the box's mutual TLS; a
// download cut mid-way resumes with Range from where it stopped, and the
// archive sends each byte once.
func TestFetchUpdateRange(t *testing.T) {
	e := newEnv(t)
	b := e.updateBox(t)
	root := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	b.shim.Serve(8, root, []byte("boot"))
	b.shim.CutAfter(300 << 10)
	ctx := context.Background()
	rc, err := b.c.FetchUpdate(ctx, 8, "root", 0)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	_, err = io.Copy(&got, rc)
	rc.Close()
	if err == nil || got.Len() == 0 || got.Len() > 300<<10 {
		t.Fatalf("cut download: %d bytes, %v", got.Len(), err)
	}
	first := int64(got.Len())
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
	// Sent again: only what the cut lost in flight.
	if s := b.shim.Served(); s != int64(len(root))+(300<<10-first) {
		t.Fatalf("archive sent %d bytes for a file of %d cut after %d bytes received", s, len(root), first)
	}
	if g := b.shim.Gets(); len(g) != 2 || g[1] != fmt.Sprintf("GET /sync/v1/update/8/root bytes=%d-", first) {
		t.Fatalf("requests %q", g)
	}
	if _, err := b.c.FetchUpdate(ctx, 8, "../etc", 0); err == nil {
		t.Fatal("a part outside root and boot was fetched")
	}
	var re *client.RemoteError
	if _, err := b.c.FetchUpdate(ctx, 9, "root", 0); !errors.As(err, &re) || re.Status != 404 {
		t.Fatalf("missing update: %v", err)
	}
}

// TestEnrollPinsUpdateKey: zero-touch enrollment keeps the update key the
// archive sends (update.pub) and names it in the [sync] section the box
// runs with.
func TestEnrollPinsUpdateKey(t *testing.T) {
	e := newEnv(t)
	shim := updatetest.Start(t, func() *archive.Archive { return e.arch })
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	key := base64.StdEncoding.EncodeToString(pub)
	shim.SetUpdateKey(key)
	cfg := e.enrollConfig(t)
	cfg.Archives = []string{shim.Addr}
	e.arch.Config.Advertise = []string{shim.Addr}
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

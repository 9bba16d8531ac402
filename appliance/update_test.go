package appliance

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/spanvault/spanvault/appliance/config"
	"github.com/spanvault/spanvault/appliance/firmware"
	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/capture"
	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/decode"
	"github.com/spanvault/spanvault/internal/updatetest"
	"github.com/spanvault/spanvault/sync/wire"
	"github.com/spanvault/spanvault/vault"
)

// updEnv is a real archive (TLS, enrollment, its check-in handler) behind
// the update shim, and the directories of one box that "reboots": each
// boot is a new Appliance on the same vault, update directory and
// installer directory, with the firmware.json of the root it booted.
type updEnv struct {
	t     *testing.T
	arch  *archive.Archive
	shim  *updatetest.Shim
	key   ed25519.PrivateKey
	dir   string // the box's /perm
	id    *age.X25519Identity
	sync  string // the [sync] section
	root  []byte
	boot  []byte
	cur   *Appliance
	parts *firmware.Dir
}

func newUpdEnv(t *testing.T) *updEnv {
	e := &updEnv{t: t, dir: t.TempDir()}
	adir := filepath.Join(t.TempDir(), "archive")
	if err := archive.Init(adir, archive.InitOptions{Name: "upd-archive", Listen: "127.0.0.1:0"}); err != nil {
		t.Fatal(err)
	}
	var err error
	if e.arch, err = archive.Open(adir); err != nil {
		t.Fatal(err)
	}
	r, err := e.arch.Enroll(context.Background(), "branch-upd", filepath.Join(t.TempDir(), "enroll"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.arch.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done; e.arch.Close() })
	e.shim = updatetest.Start(t, func() *archive.Archive { return e.arch })
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	e.key = key
	os.WriteFile(filepath.Join(e.dir, "update.pub"), []byte(base64.StdEncoding.EncodeToString(pub)+"\n"), 0o644)
	e.sync = fmt.Sprintf("[sync]\nname = \"branch-upd\"\narchives = [%q]\ncert = %q\nkey = %q\nca = %q\nanchor_key = %q\nupdate_key = \"update.pub\"\nwindow = \"00:00-24:00\"\n",
		e.shim.Addr, filepath.Join(r.Dir, "sync.crt"), filepath.Join(r.Dir, "sync.key"), filepath.Join(r.Dir, "ca.crt"), filepath.Join(r.Dir, "anchor.vkey"))
	e.id, _ = age.GenerateX25519Identity()
	e.parts = &firmware.Dir{Path: filepath.Join(e.dir, "partitions")}
	// A root file system of 1 MiB and a boot partition.
	e.root = bytes.Repeat([]byte("squashfs"), 128<<10)
	e.boot = bytes.Repeat([]byte("FAT"), 10000)
	return e
}

// offer makes the archive offer serial 8 for arm64 (the files served are
// root and boot, the manifest's hashes those of e.root and e.boot).
func (e *updEnv) offer(root []byte) {
	rs, bs := sha256.Sum256(e.root), sha256.Sum256(e.boot)
	su, err := wire.SignUpdate(e.key, wire.UpdateManifest{Serial: 8, Version: "2026.12.06-8", Built: time.Now().UTC(), Arch: "arm64",
		Root: wire.UpdateFile{Size: int64(len(e.root)), SHA256: rs[:]}, Boot: wire.UpdateFile{Size: int64(len(e.boot)), SHA256: bs[:]}})
	if err != nil {
		e.t.Fatal(err)
	}
	e.shim.Serve(8, root, e.boot)
	e.shim.Offer(&wire.UpdateOffer{Rollout: 3, Update: su, ConfirmWithin: wire.Duration(20 * time.Minute)})
}

// boot starts the box's daemon (as Run does up to the sync loop) on
// firmware serial, with extra configuration.
func (e *updEnv) start(serial uint64, extra string) *Appliance {
	t := e.t
	if e.cur != nil {
		e.cur.v.Close()
	}
	os.WriteFile(filepath.Join(e.dir, "firmware.json"), []byte(fmt.Sprintf(`{"serial":%d,"version":"v%d","arch":"arm64"}`, serial, serial)), 0o644)
	cfg, err := config.Parse([]byte("[vault]\ndir = \"v\"\nrecipients = \"r\"\n"+e.sync+extra+
		"\n[update]\ndir = \"update\"\nfirmware = \"firmware.json\"\ninstaller = \"dir\"\ninstaller_dir = \"partitions\"\n"), e.dir)
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a.v, err = vault.Open(vault.Options{Dir: cfg.Vault.Dir, Recipients: []age.Recipient{e.id.Recipient()}, Alert: a.alert}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.v.Close() })
	a.clockOK.Store(true)
	a.newUpdater()
	if a.upd == nil {
		t.Fatal("no updater")
	}
	sc, err := a.newSyncClient()
	if err != nil {
		t.Fatal(err)
	}
	a.sync = &syncer{c: sc, started: time.Now(), window: cfg.Sync.Window}
	a.live = &capture.Live{P: capture.NewPipeline(decode.New(decode.DefaultOptions), calls.NewTracker(calls.Config{}, a.v, a.v))}
	a.upd.setCaptureStarted(time.Now())
	a.updateAtStart()
	a.verifyAudit()
	a.refresh()
	e.cur = a
	return a
}

// pass is one sync pass of the daemon's loop (upload: inside the window).
func (e *updEnv) pass(a *Appliance, upload bool) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a.syncOnce(ctx, a.sync.(*syncer).c, upload)
}

func (e *updEnv) rebootRequested(a *Appliance) bool {
	select {
	case <-a.rebootRequested():
		return true
	default:
		return false
	}
}

func audits(t *testing.T, v *vault.Vault, action string) []string {
	head, err := v.AuditHead()
	if err != nil {
		t.Fatal(err)
	}
	es, err := v.AuditEntries(1, int(head.Seq))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, en := range es {
		if en.Action == action {
			out = append(out, en.Detail)
		}
	}
	return out
}

func (e *updEnv) health() wire.Health {
	h, ok := e.shim.LastHealth()
	if !ok {
		e.t.Fatal("no check-in")
	}
	return h
}

// TestUpdateInstallRebootConfirm: the box on firmware 7 is offered 8; it
// downloads both files inside its window (a cut download resumes with
// Range, no byte sent twice but those lost in flight), verifies them,
// has the installer write the root, then the boot partition, then the
// test boot, writes pending.json, audits and asks to reboot. Capture
// stops (its time noted), the installer reboots. Firmware 8 then boots on
// trial, reports "trying", and after its first healthy sync pass
// switches for good, reports "confirmed" and audits the capture gap.
func TestUpdateInstallRebootConfirm(t *testing.T) {
	e := newUpdEnv(t)
	a := e.start(7, "")
	e.offer(e.root)
	e.shim.CutAfter(10000) // the first file request (boot, 30000 bytes) is cut
	e.pass(a, true)
	if e.rebootRequested(a) {
		t.Fatal("installed after a cut download")
	}
	if h := e.health(); h.FirmwareSerial != 7 || h.BootedAt.IsZero() {
		t.Fatalf("health %+v", h)
	}
	if st := a.sync.(*syncer).c.UpdateReport(); st.State != wire.UpdateDownloading || st.Serial != 8 {
		t.Fatalf("state %+v", st)
	}
	e.pass(a, true)
	if !e.rebootRequested(a) {
		t.Fatalf("not installed after the resumed download: %v", e.shim.Gets())
	}
	gets := e.shim.Gets()
	if len(gets) != 3 || !strings.HasPrefix(gets[0], "GET /sync/v1/update/8/boot ") || !strings.Contains(gets[1], "/8/boot bytes=") || !strings.HasSuffix(gets[2], "/8/root ") {
		t.Fatalf("requests %q", gets)
	}
	if lost := e.shim.Served() - int64(len(e.root)+len(e.boot)); lost < 0 || lost > 64<<10 {
		t.Fatalf("archive sent %d bytes for %d", e.shim.Served(), len(e.root)+len(e.boot))
	}
	ev, _ := e.parts.Events()
	if strings.Join(ev, " ") != "write:root.img write:boot.img testboot" {
		t.Fatalf("installer calls %q", ev)
	}
	for f, want := range map[string][]byte{"root.img": e.root, "boot.img": e.boot} {
		if b, _ := os.ReadFile(filepath.Join(e.parts.Path, f)); !bytes.Equal(b, want) {
			t.Fatalf("%s differs", f)
		}
	}
	p, err := firmware.ReadPending(filepath.Join(e.dir, "update"))
	if err != nil || p == nil || p.Serial != 8 || p.FromSerial != 7 || p.Rollout != 3 || p.Within() != 20*time.Minute {
		t.Fatalf("pending %+v %v", p, err)
	}
	if h := e.health(); h.UpdateState != wire.UpdateWritten || h.UpdateSerial != 8 {
		t.Fatalf("before the reboot: %+v", h)
	}
	if au := audits(t, a.v, "firmware_update"); len(au) != 1 || !strings.Contains(au[0], "firmware update 8 (2026.12.06-8, rollout 3) written, rebooting") {
		t.Fatalf("audit %q", au)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "update", rootPart)); !os.IsNotExist(err) {
		t.Fatalf("download kept after the install: %v", err)
	}
	// Run's end: capture stopped, then the reboot.
	stopped := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := a.rebootIntoUpdate(ctx, stopped); err != nil {
		t.Fatal(err)
	}
	if ev, _ := e.parts.Events(); ev[len(ev)-1] != "reboot" {
		t.Fatalf("installer calls %q", ev)
	}

	// Firmware 8 boots (the archive still offers it: not an error).
	a = e.start(8, "")
	e.pass(a, false)
	if h := e.health(); h.FirmwareSerial != 8 {
		t.Fatalf("after the reboot: %+v", h)
	}
	// The pass above confirmed it (recording works, the pass succeeded)
	// and reported it.
	if h := e.health(); h.UpdateState != wire.UpdateConfirmed || h.UpdateSerial != 8 || h.UpdateFailure != "" {
		t.Fatalf("after the first healthy pass: %+v", h)
	}
	if ev, _ := e.parts.Events(); ev[len(ev)-1] != "switch" {
		t.Fatalf("installer calls %q", ev)
	}
	if s, ok := firmware.Confirmed(filepath.Join(e.dir, "update")); !ok || s != 8 {
		t.Fatal("confirmed.json not written")
	}
	if p, _ := firmware.ReadPending(filepath.Join(e.dir, "update")); p != nil {
		t.Fatalf("pending kept: %+v", p)
	}
	au := audits(t, a.v, "firmware_confirmed")
	if len(au) != 1 || !strings.Contains(au[0], "firmware 8 (2026.12.06-8) confirmed; capture gap from "+stopped.UTC().Format(time.RFC3339Nano)) {
		t.Fatalf("audit %q", au)
	}
	if au := audits(t, a.v, "update_refused"); len(au) != 0 {
		t.Fatalf("refused: %q", au)
	}
	a.refresh()
	if fw := a.Status().Firmware; fw == nil || fw.Serial != 8 || fw.UpdateState != wire.UpdateConfirmed {
		t.Fatalf("status %+v", fw)
	}
}

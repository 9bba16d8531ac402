package appliance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"golang.org/x/sys/unix"

	"github.com/spanvault/spanvault/appliance/config"
	"github.com/spanvault/spanvault/appliance/firmware"
	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/capture"
	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/decode"
	"github.com/spanvault/spanvault/internal/testkit"
	"github.com/spanvault/spanvault/sync/wire"
	"github.com/spanvault/spanvault/vault"
	"github.com/spanvault/spanvault/vault/audit"
)

// updEnv is a real archive (its own server: TLS, enrollment, check-ins,
// rollouts, update downloads) reached through a link that can be cut
// (testkit.CutProxy), with the update downloads it receives recorded,
// and the directories of one box that "reboots": each boot is a new
// Appliance on the same vault, update directory and installer
// directory, with the firmware.json of the root it booted. The box pins
// the update key of its enrollment (the archive's).
type updEnv struct {
	t       *testing.T
	arch    *archive.Archive
	link    *testkit.CutProxy
	reqs    *testkit.RequestLog
	dir     string // the box's /perm
	id      *age.X25519Identity
	sync    string // the [sync] section
	root    []byte
	boot    []byte
	cur     *Appliance
	parts   *firmware.Dir
	rollout int64
	// captureLate: start returns before capture runs (and the updater
	// reads pending.json): the sync loop may check in first.
	captureLate bool
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
	srv, err := e.arch.Server()
	if err != nil {
		t.Fatal(err)
	}
	e.reqs = testkit.LogRequests(srv, archive.PathUpdate)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		e.arch.Close()
	})
	pln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.link = testkit.StartCutProxy(t, pln, ln.Addr().String())
	e.sync = fmt.Sprintf("[sync]\nname = \"branch-upd\"\narchives = [%q]\ncert = %q\nkey = %q\nca = %q\nanchor_key = %q\nupdate_key = %q\nwindow = \"00:00-24:00\"\n",
		e.link.Addr, filepath.Join(r.Dir, "sync.crt"), filepath.Join(r.Dir, "sync.key"), filepath.Join(r.Dir, "ca.crt"), filepath.Join(r.Dir, "anchor.vkey"), filepath.Join(r.Dir, "update.pub"))
	e.id, _ = age.GenerateX25519Identity()
	e.parts = &firmware.Dir{Path: filepath.Join(e.dir, "partitions")}
	// A root file system of 1 MiB and a boot partition.
	e.root = bytes.Repeat([]byte("squashfs"), 128<<10)
	e.boot = bytes.Repeat([]byte("FAT"), 10000)
	return e
}

// build signs serial 8 for arm64 (e.root and e.boot) with the archive's
// update key into an update directory, as `update sign` does.
func (e *updEnv) build() string {
	t := e.t
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "root"), e.root, 0o600)
	os.WriteFile(filepath.Join(src, "boot"), e.boot, 0o600)
	key, err := archive.ReadUpdateKey(filepath.Join(e.arch.Dir, archive.UpdateKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "update")
	if _, err := archive.SignUpdateDir(key, wire.UpdateManifest{Serial: 8, Version: "2026.12.06-8", Built: time.Now().UTC(), Arch: "arm64"},
		filepath.Join(src, "root"), filepath.Join(src, "boot"), out); err != nil {
		t.Fatal(err)
	}
	return out
}

// offer publishes the build and rolls it out to the box (its own
// canary): its next check-in is offered it.
func (e *updEnv) offer() {
	t := e.t
	ctx := context.Background()
	if _, err := e.arch.Publish(ctx, e.build(), "ops"); err != nil {
		t.Fatal(err)
	}
	r, err := e.arch.Roll(ctx, archive.RollOptions{Serial: 8, Target: "box:branch-upd", ConfirmWithin: 20 * time.Minute, By: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	e.rollout = r.ID
}

// rolloutBox is the box's row in the rollout, and the rollout's state.
func (e *updEnv) rolloutBox() (index.RolloutBox, string) {
	e.t.Helper()
	st, err := e.arch.Rollout(context.Background(), e.rollout)
	if err != nil || len(st.Boxes) != 1 {
		e.t.Fatalf("rollout %d: %+v %v", e.rollout, st, err)
	}
	return st.Boxes[0], st.State
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
	if err := a.v.Audit(audit.VaultOpened, "appliance", "", "daemon started"); err != nil {
		t.Fatal(err)
	}
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
	if !e.captureLate {
		a.upd.setCaptureStarted(time.Now())
		a.updateAtStart()
	}
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

// health is what the archive stored of the box's last check-in.
func (e *updEnv) health() wire.Health {
	e.t.Helper()
	ap, err := e.arch.Index.Appliance(context.Background(), "branch-upd")
	if err != nil || ap.Health == "" {
		e.t.Fatalf("no check-in: %v", err)
	}
	var h wire.Health
	if err := json.Unmarshal([]byte(ap.Health), &h); err != nil {
		e.t.Fatal(err)
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
	e.offer()
	// The link is cut 10000 bytes into the first file's response (boot,
	// 30000 bytes): the box's download breaks there.
	var from int64
	e.reqs.OnRequest(func(string) {
		from = e.link.Down()
		e.link.CutAfter(10000)
		e.reqs.OnRequest(nil)
	})
	e.pass(a, true)
	if e.link.Cuts() != 1 {
		t.Fatal("the link was not cut")
	}
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
		t.Fatalf("not installed after the resumed download: %v", e.reqs.Lines())
	}
	gets := e.reqs.Lines()
	if len(gets) != 3 || !strings.HasPrefix(gets[0], "GET /sync/v1/update/8/boot ") || !strings.Contains(gets[1], "/8/boot bytes=") || !strings.HasSuffix(gets[2], "/8/root ") {
		t.Fatalf("requests %q", gets)
	}
	// What crossed the link since the first file request: both files
	// once, what the cut lost in flight, TLS and the pass's check-ins.
	if lost := e.link.Down() - from - int64(len(e.root)+len(e.boot)); lost < 0 || lost > 64<<10 {
		t.Fatalf("the archive sent %d bytes for %d", e.link.Down()-from, len(e.root)+len(e.boot))
	} else {
		t.Logf("%d bytes on the link for files of %d bytes", e.link.Down()-from, len(e.root)+len(e.boot))
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
	if err != nil || p == nil || p.Serial != 8 || p.FromSerial != 7 || p.Rollout != e.rollout || p.Within() != 20*time.Minute {
		t.Fatalf("pending %+v %v", p, err)
	}
	if h := e.health(); h.UpdateState != wire.UpdateWritten || h.UpdateSerial != 8 {
		t.Fatalf("before the reboot: %+v", h)
	}
	if rb, _ := e.rolloutBox(); rb.State != wire.UpdateWritten {
		t.Fatalf("the archive's rollout: %+v", rb)
	}
	if au := audits(t, a.v, "firmware_update"); len(au) != 1 || !strings.Contains(au[0], fmt.Sprintf("firmware update 8 (2026.12.06-8, rollout %d) written, rebooting", e.rollout)) {
		t.Fatalf("audit %q", au)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "update", rootPart)); !os.IsNotExist(err) {
		t.Fatalf("download kept after the install: %v", err)
	}
	// Run's end: capture stopped, then the reboot.
	stopped := time.Now()
	e.reboot(a, stopped)
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
	if rb, state := e.rolloutBox(); rb.State != archive.BoxConfirmed || state != index.RolloutDone {
		t.Fatalf("the archive's rollout %s, box %+v", state, rb)
	}
	a.refresh()
	if fw := a.Status().Firmware; fw == nil || fw.Serial != 8 || fw.UpdateState != wire.UpdateConfirmed {
		t.Fatalf("status %+v", fw)
	}
}

// TestUpdateOutsideWindow: an offer outside the sync window is taken,
// but nothing is downloaded until the window opens.
func TestUpdateOutsideWindow(t *testing.T) {
	e := newUpdEnv(t)
	from := time.Now().Add(12 * time.Hour)
	to := from.Add(time.Minute)
	closed := fmt.Sprintf("%02d:%02d-%02d:%02d", from.Hour(), from.Minute(), to.Hour(), to.Minute())
	e.sync = strings.Replace(e.sync, `window = "00:00-24:00"`, `window = "`+closed+`"`, 1)
	a := e.start(7, "")
	e.offer()
	// The daemon's loop outside the window: check-ins only.
	e.pass(a, InWindow(a.syncWindow(), time.Now()))
	e.pass(a, InWindow(a.syncWindow(), time.Now()))
	if g := e.reqs.Lines(); len(g) != 0 {
		t.Fatalf("downloaded outside the window: %q", g)
	}
	if e.rebootRequested(a) {
		t.Fatal("installed outside the window")
	}
	// Even a pass that uploads (an archive's pull) does not download
	// outside the window.
	e.pass(a, true)
	if g := e.reqs.Lines(); len(g) != 0 {
		t.Fatalf("downloaded outside the window on a pull: %q", g)
	}
}

// TestUpdateHashMismatch: a root file whose SHA-256 differs from the
// signed manifest's is refused after the download: nothing is installed,
// the files are removed, the refusal is audited and reported, and the
// archive marks the box failed with that reason. The archive publishes
// no file that does not hash to its manifest (refused first, asserted):
// what reaches the box is its published copy changed on its disk
// afterwards (bit rot, tampering).
func TestUpdateHashMismatch(t *testing.T) {
	e := newUpdEnv(t)
	a := e.start(7, "")
	bad := bytes.Clone(e.root)
	bad[len(bad)/2] ^= 0xff
	d := e.build()
	os.WriteFile(filepath.Join(d, archive.UpdateRootFile), bad, 0o600)
	if _, err := e.arch.Publish(context.Background(), d, "ops"); err == nil || !strings.Contains(err.Error(), "does not hash to the manifest") {
		t.Fatalf("the archive published a root that does not hash to its manifest: %v", err)
	}
	e.offer()
	if err := os.WriteFile(filepath.Join(e.arch.Dir, "updates", "8", archive.UpdateRootFile), bad, 0o600); err != nil {
		t.Fatal(err)
	}
	e.pass(a, true)
	e.pass(a, false) // the next check-in
	if e.rebootRequested(a) {
		t.Fatal("a root with another hash was installed")
	}
	if ev, _ := e.parts.Events(); len(ev) != 0 {
		t.Fatalf("installer called: %q", ev)
	}
	if p, _ := firmware.ReadPending(filepath.Join(e.dir, "update")); p != nil {
		t.Fatalf("pending written: %+v", p)
	}
	for _, f := range []string{rootPart, bootPart} {
		if _, err := os.Stat(filepath.Join(e.dir, "update", f)); !os.IsNotExist(err) {
			t.Fatalf("%s kept: %v", f, err)
		}
	}
	// Not downloaded again at the next pass (the archive offers it no
	// more: the box failed, the rollout stopped).
	served := len(e.reqs.Lines())
	e.pass(a, true)
	if len(e.reqs.Lines()) != served {
		t.Fatal("a file that failed its hash was downloaded again at the next pass")
	}
	const why = "update 8: root: SHA-256 differs from the manifest's; nothing installed"
	if au := audits(t, a.v, "update_refused"); len(au) != 1 || au[0] != why {
		t.Fatalf("audit %q", au)
	}
	if h := e.health(); h.UpdateState != wire.UpdateRefused || h.UpdateSerial != 8 || h.UpdateFailure != why {
		t.Fatalf("reported %+v", h)
	}
	if rb, state := e.rolloutBox(); rb.State != archive.BoxFailed || rb.Reason != why || state != index.RolloutStopped {
		t.Fatalf("the archive's rollout %s, box %+v", state, rb)
	}
}

// TestUpdateRolledBack: firmware 8 was written and test-booted but never
// confirmed; the watchdog's reboot brought back firmware 7, which reports
// "rolled-back" with the reason, audits it with the capture gap, clears
// pending.json and does not try 8 again.
func TestUpdateRolledBack(t *testing.T) {
	e := newUpdEnv(t)
	_, stopped := e.installed()
	// Firmware 8 boots on trial, but recording does not work (here: its
	// audit chain does not verify): its passes do not confirm it.
	a := e.start(8, "")
	a.mu.Lock()
	a.auditOK, a.auditErr = false, "audit: chain broken"
	a.mu.Unlock()
	a.refresh()
	e.pass(a, true)
	e.pass(a, true)
	if h := e.health(); h.FirmwareSerial != 8 || h.UpdateState != wire.UpdateTrying || h.UpdateSerial != 8 {
		t.Fatalf("on trial: %+v", h)
	}
	if s, ok := firmware.Confirmed(filepath.Join(e.dir, "update")); ok {
		t.Fatalf("confirmed %d while recording fails", s)
	}
	// The watchdog reboots into 7.
	a = e.start(7, "")
	e.pass(a, true)
	const why = "firmware 8 did not confirm within 20m0s; running 7 again"
	if h := e.health(); h.FirmwareSerial != 7 || h.UpdateState != wire.UpdateRolledBack || h.UpdateSerial != 8 || h.UpdateFailure != why {
		t.Fatalf("reported %+v", h)
	}
	au := audits(t, a.v, "firmware_rolled_back")
	if len(au) != 1 || !strings.HasPrefix(au[0], why+"; capture gap from "+stopped.UTC().Format(time.RFC3339Nano)) {
		t.Fatalf("audit %q", au)
	}
	if p, _ := firmware.ReadPending(filepath.Join(e.dir, "update")); p != nil {
		t.Fatalf("pending kept: %+v", p)
	}
	if rb, state := e.rolloutBox(); rb.State != archive.BoxFailed || rb.Reason != why || state != index.RolloutStopped {
		t.Fatalf("the archive's rollout %s, box %+v", state, rb)
	}
	if e.rebootRequested(a) {
		t.Fatal("the rolled-back firmware was installed again")
	}
	ev, _ := e.parts.Events()
	if strings.Join(ev, " ") != "write:root.img write:boot.img testboot reboot" {
		t.Fatalf("installer calls %q", ev)
	}
	a.refresh()
	if fw := a.Status().Firmware; fw == nil || fw.UpdateState != wire.UpdateRolledBack || fw.UpdateFailure != why {
		t.Fatalf("status %+v", fw)
	}
}

// TestUpdateNoSpace: an update that would leave less than vault.min_free
// is refused before any download; recordings are not evicted for it.
func TestUpdateNoSpace(t *testing.T) {
	e := newUpdEnv(t)
	a := e.start(7, "")
	var st unix.Statfs_t
	if err := unix.Statfs(e.dir, &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	// A floor just above what is free less the update's size.
	a.cfg.Vault.MinFree = config.Size(free - int64(len(e.root)+len(e.boot))/2)
	e.offer()
	e.pass(a, true)
	if g := e.reqs.Lines(); len(g) != 0 {
		t.Fatalf("downloaded: %q", g)
	}
	au := audits(t, a.v, "update_refused")
	if len(au) != 1 || !strings.Contains(au[0], "recordings are never evicted for an update") {
		t.Fatalf("audit %q", au)
	}
	if h := e.health(); h.UpdateState != wire.UpdateRefused || !strings.Contains(h.UpdateFailure, "vault.min_free") {
		t.Fatalf("reported %+v", h)
	}
}

// TestUpdateWithdrawn: an offer the archive no longer makes (its rollout
// paused or stopped) is not downloaded.
func TestUpdateWithdrawn(t *testing.T) {
	e := newUpdEnv(t)
	a := e.start(7, "")
	from := time.Now().Add(12 * time.Hour)
	closed := fmt.Sprintf("%02d:%02d-%02d:%02d", from.Hour(), from.Minute(), from.Add(time.Minute).Hour(), from.Add(time.Minute).Minute())
	a.mu.Lock()
	a.cfg.Sync.Window = closed
	a.mu.Unlock()
	e.offer()
	e.pass(a, false) // a check-in outside the window: the offer is taken
	a.upd.mu.Lock()
	taken := a.upd.offer != nil
	a.upd.mu.Unlock()
	if !taken {
		t.Fatal("offer not taken")
	}
	if err := e.arch.StopRollout(context.Background(), e.rollout, "a fault found in 8", "ops"); err != nil {
		t.Fatal(err)
	}
	a.mu.Lock()
	a.cfg.Sync.Window = "00:00-24:00"
	a.mu.Unlock()
	e.pass(a, true)
	if g := e.reqs.Lines(); len(g) != 0 {
		t.Fatalf("a withdrawn offer was downloaded: %q", g)
	}
}

// TestUpdateRolledBackNotReinstalled: the old firmware, booted again by
// the watchdog, may check in before its capture runs and it reads
// pending.json (the daemon's sync loop starts first). The box still
// says "written" for the update then, and the archive, whose rollout
// has the box written and not yet running it, offers it again. That
// offer must not be taken before the box knows it rolled the update
// back: it is not downloaded or installed again, and the box reports
// the rollback, which the archive records as its failure. Before: the
// offer was kept, and after the rollback was noted the box downloaded
// and installed the same firmware again, rebooting into it (found with
// the real daemon against the real archive, TestDaemonFirmwareUpdate).
func TestUpdateRolledBackNotReinstalled(t *testing.T) {
	e := newUpdEnv(t)
	e.installed()
	// Firmware 8 never comes up; the watchdog boots 7 again, whose sync
	// loop checks in before capture runs.
	e.captureLate = true
	a := e.start(7, "")
	e.pass(a, true)
	if h := e.health(); h.FirmwareSerial != 7 || h.UpdateState != wire.UpdateWritten || h.UpdateSerial != 8 {
		t.Fatalf("the first check-in: %+v", h)
	}
	a.upd.setCaptureStarted(time.Now())
	a.updateAtStart()
	e.pass(a, true)
	e.pass(a, true)
	if e.rebootRequested(a) {
		t.Fatal("the rolled-back firmware was installed again")
	}
	if ev, _ := e.parts.Events(); strings.Join(ev, " ") != "write:root.img write:boot.img testboot reboot" {
		t.Fatalf("installer calls %q", ev)
	}
	const why = "firmware 8 did not confirm within 20m0s; running 7 again"
	if h := e.health(); h.FirmwareSerial != 7 || h.UpdateState != wire.UpdateRolledBack || h.UpdateSerial != 8 || h.UpdateFailure != why {
		t.Fatalf("reported %+v", h)
	}
	if rb, state := e.rolloutBox(); rb.State != archive.BoxFailed || rb.Reason != why || state != index.RolloutStopped {
		t.Fatalf("the archive's rollout %s, box %+v", state, rb)
	}
}

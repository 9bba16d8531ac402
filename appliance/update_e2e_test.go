package appliance_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/appliance/firmware"
	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/capture/ring/ringtest"
	"github.com/spanvault/spanvault/internal/updatetest"
	"github.com/spanvault/spanvault/sync/wire"
)

// TestDaemonFirmwareUpdate runs the daemon binary as the box runs it,
// firmware 7, against a real archive (behind the update shim until the
// archive's rollouts are merged) offering firmware 8: the daemon
// downloads and installs it (a directory installer stands in for
// gokrazy, which the image's qemu test exercises), stops capture and
// asks for the reboot, and waits for the stop signal as under gokrazy.
// Restarted with firmware 8's identity, it confirms at its first healthy
// pass, reports it at check-in, shows it on its status page, and its
// audit trail holds the write and the confirmation with the capture gap.
func TestDaemonFirmwareUpdate(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	ns := ringtest.NewNetns(t, "svupdate")
	adir := filepath.Join(t.TempDir(), "archive")
	if err := archive.Init(adir, archive.InitOptions{Name: "e2e-archive", Listen: "127.0.0.1:18447"}); err != nil {
		t.Fatal(err)
	}
	a, err := archive.Open(adir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	enroll := filepath.Join(t.TempDir(), "enroll")
	if _, err := a.Enroll(context.Background(), "branch-fw", enroll, nil); err != nil {
		t.Fatal(err)
	}
	var ln net.Listener
	ns.Do(t, func() { ln, err = net.Listen("tcp", "127.0.0.1:0") })
	if err != nil {
		t.Fatal(err)
	}
	shim := updatetest.StartOn(t, ln, func() *archive.Archive { return a })
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	os.WriteFile(filepath.Join(enroll, "update.pub"), []byte(base64.StdEncoding.EncodeToString(pub)+"\n"), 0o644)

	section, err := os.ReadFile(filepath.Join(enroll, "sync.toml"))
	if err != nil {
		t.Fatal(err)
	}
	s := regexp.MustCompile(`(?m)^archives = .*$`).ReplaceAllString(string(section), `archives = ["`+shim.Addr+`"]`)
	s = regexp.MustCompile(`(?m)^window = .*$`).ReplaceAllString(s, `window = "00:00-24:00"`)
	s = regexp.MustCompile(`(?m)^check_in_every = .*$`).ReplaceAllString(s, `check_in_every = "10s"`)
	s += "update_key = \"" + filepath.Join(enroll, "update.pub") + "\"\n"
	s += "\n[update]\ndir = \"update\"\nfirmware = \"firmware.json\"\ninstaller = \"dir\"\ninstaller_dir = \"partitions\"\n"
	b := newBox(t, ns, s)
	fw := func(serial string) {
		os.WriteFile(filepath.Join(b.dir, "firmware.json"), []byte(`{"serial":`+serial+`,"version":"2026.12.06-`+serial+`","arch":"arm64"}`), 0o644)
	}
	fw("7")

	root, boot := bytes.Repeat([]byte("squashfs"), 256<<10), bytes.Repeat([]byte("FAT"), 100000)
	rs, bs := sha256.Sum256(root), sha256.Sum256(boot)
	su, err := wire.SignUpdate(key, wire.UpdateManifest{Serial: 8, Version: "2026.12.06-8", Built: time.Now().UTC(), Arch: "arm64",
		Root: wire.UpdateFile{Size: int64(len(root)), SHA256: rs[:]}, Boot: wire.UpdateFile{Size: int64(len(boot)), SHA256: bs[:]}})
	if err != nil {
		t.Fatal(err)
	}
	shim.Serve(8, root, boot)
	shim.Offer(&wire.UpdateOffer{Rollout: 1, Update: su, ConfirmWithin: wire.Duration(10 * time.Minute)})

	b.start()
	parts := &firmware.Dir{Path: filepath.Join(b.dir, "partitions")}
	waitFor(t, "the update to be written and the reboot asked for", 60*time.Second, func() bool {
		ev, _ := parts.Events()
		return strings.Join(ev, " ") == "write:root.img write:boot.img testboot reboot"
	})
	p, err := firmware.ReadPending(filepath.Join(b.dir, "update"))
	if err != nil || p == nil || p.Serial != 8 || p.FromSerial != 7 || p.CaptureStopped.IsZero() {
		t.Fatalf("pending %+v %v", p, err)
	}
	if h, _ := shim.LastHealth(); h.UpdateState != wire.UpdateWritten || h.FirmwareSerial != 7 {
		t.Fatalf("before the reboot: %+v", h)
	}
	if got, _ := os.ReadFile(filepath.Join(parts.Path, "root.img")); !bytes.Equal(got, root) {
		t.Fatal("root partition differs")
	}
	b.stop() // gokrazy's SIGTERM before it reboots

	fw("8")
	b.start()
	waitFor(t, "firmware 8 to confirm and say so at check-in", 60*time.Second, func() bool {
		h, _ := shim.LastHealth()
		return h.FirmwareSerial == 8 && h.UpdateState == wire.UpdateConfirmed && h.UpdateSerial == 8
	})
	st := b.status()
	fwst, _ := st["firmware"].(map[string]any)
	if num(fwst, "serial") != 8 || fwst["update_state"] != "confirmed" || fwst["version"] != "2026.12.06-8" {
		t.Fatalf("status page firmware %v", fwst)
	}
	if !strings.Contains(b.page(), "Firmware 2026.12.06-8 (serial 8, arm64)") {
		t.Fatal("status page does not show the firmware")
	}
	if ev, _ := parts.Events(); ev[len(ev)-1] != "switch" {
		t.Fatalf("installer calls %q", ev)
	}
	b.stop()
	v := openVault(t, b)
	head, err := v.AuditHead()
	if err != nil {
		t.Fatal(err)
	}
	es, err := v.AuditEntries(1, int(head.Seq))
	if err != nil {
		t.Fatal(err)
	}
	var written, confirmed string
	for _, en := range es {
		switch en.Action {
		case "firmware_update":
			written = en.Detail
		case "firmware_confirmed":
			confirmed = en.Detail
		}
	}
	if !strings.Contains(written, "firmware update 8 (2026.12.06-8, rollout 1) written, rebooting") {
		t.Fatalf("audit of the write: %q", written)
	}
	if !strings.Contains(confirmed, "firmware 8 (2026.12.06-8) confirmed; capture gap from "+p.CaptureStopped.UTC().Format(time.RFC3339Nano)) {
		t.Fatalf("audit of the confirmation: %q", confirmed)
	}
	t.Logf("%s", confirmed)
}

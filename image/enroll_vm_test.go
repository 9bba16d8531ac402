package image_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/image"
	"github.com/spanvault/spanvault/internal/units"
	"github.com/spanvault/spanvault/sync/wire"
)

// TestVMBootEnrollsZeroTouch (issue 24, acceptance 1, enrollment): an
// image built for a test archive carries only the archive's address and
// its CA fingerprint. Booted under qemu it has no certificate, shows its
// enrollment code on its status page, is approved as the CLI approves,
// and syncs a call recorded from its mirror port.
func TestVMBootEnrollsZeroTouch(t *testing.T) {
	if testing.Short() {
		t.Skip("emulator boot skipped in -short mode")
	}
	needTools(t, "qemu-system-aarch64")
	va := startVMArchive(t)
	a := va.a
	cfg, _ := instance(t, va.boxConfig())
	dir := t.TempDir()
	img := filepath.Join(dir, "spanvault-vm.img")
	res := build(t, image.VM, cfg, img)
	calls := filepath.Join(dir, "calls.pcap")
	goRun(t, "./cmd/sipgen", "-o", calls, "-calls", "2", "-duration", "4s", "-seed", "24")

	t0 := time.Now()
	v := bootVM(t, img, res)
	var code string
	v.waitStatus(t, "the enrollment code on the status page", 4*time.Minute, func(m map[string]any) bool {
		en, _ := m["enroll"].(map[string]any)
		code, _ = en["code"].(string)
		return en["state"] == "pending" && code != "" && m["led"] == "enrolling"
	})
	t.Logf("booted and asking for enrollment in %s, code %s", time.Since(t0).Round(time.Second), code)
	if err := a.Approve(context.Background(), strings.ToLower(code), "branch-vm", "admin", ""); err != nil {
		t.Fatal(err)
	}
	v.waitStatus(t, "the approved box to sync", 2*time.Minute, func(m map[string]any) bool {
		s, _ := m["sync"].(map[string]any)
		return s["configured"] == true && s["last_success"] != nil
	})
	t.Logf("approved and syncing %s after boot", time.Since(t0).Round(time.Second))
	out := goRun(t, "./cmd/mirrorfeed", "-unix", v.mirror, "-pps", "500", calls)
	t.Log(strings.TrimSpace(out))
	v.waitStatus(t, "2 calls recorded", 2*time.Minute, func(m map[string]any) bool { return num(m, "calls", "recorded_today") >= 2 })
	deadline := time.Now().Add(3 * time.Minute)
	for {
		rs, err := a.Index.Records(context.Background(), index.Query{Appliance: "branch-vm", Kind: wire.KindRecording})
		if err == nil && len(rs) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the archive holds %d recordings of the enrolled VM (%v)", len(rs), err)
		}
		time.Sleep(2 * time.Second)
	}
	t.Logf("boot to first synced recording: %s", time.Since(t0).Round(time.Second))
}

// vmArchive is an archive served on the host for a VM, which reaches it at
// qemu's 10.0.2.2.
type vmArchive struct {
	a    *archive.Archive
	dir  string
	port int
	ca   string // the CA's fingerprint, sha256:HEX
}

func startVMArchive(t *testing.T) *vmArchive {
	t.Helper()
	port := freePort(t)
	adir := filepath.Join(t.TempDir(), "archive")
	if err := archive.Init(adir, archive.InitOptions{Name: "vm-archive", Listen: fmt.Sprintf("127.0.0.1:%d", port), Hosts: []string{"10.0.2.2"}}); err != nil {
		t.Fatal(err)
	}
	a, err := archive.Open(adir)
	if err != nil {
		t.Fatal(err)
	}
	a.Config.Advertise = []string{fmt.Sprintf("10.0.2.2:%d", port)}
	a.Config.Enroll.Window, a.Config.Enroll.CheckInEvery = "00:00-24:00", units.Duration(10*time.Second)
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Serve(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done; a.Close() })
	sum := sha256.Sum256(a.CA.Cert.Raw)
	return &vmArchive{a: a, dir: adir, port: port, ca: "sha256:" + hex.EncodeToString(sum[:])}
}

// boxConfig is the recorder's configuration of an image built for the
// archive: only its address and its CA's fingerprint.
func (va *vmArchive) boxConfig() string {
	return boxConfig + fmt.Sprintf(`
[enroll]
archives = ["10.0.2.2:%d"]
ca_fingerprint = "%s"
dir = "/perm/spanvault/enroll"
poll_every = "2s"
`, va.port, va.ca)
}

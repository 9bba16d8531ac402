package image_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/image"
)

// TestVMRebootABSwitch drives gokrazy's own A/B update through its HTTP
// API on the emulator image, as the box's updater does, and checks that
// the harness follows the guest's reboots with the command line the guest
// wrote: PUT /update/bootonly and /update/root (the build's update files
// written to vda1 and vda3), POST /update/testboot and /reboot: the
// next boot's command line carries gokrazy.try_boot_inactive=1 and the
// old root's init switches into vda3; POST /update/switch and /reboot:
// the boot after that mounts vda3 as its root.
func TestVMRebootABSwitch(t *testing.T) {
	if testing.Short() {
		t.Skip("emulator boot skipped in -short mode")
	}
	needTools(t, "qemu-system-aarch64", "mtype")
	cfg, _ := instance(t, boxConfig)
	dir := t.TempDir()
	img := filepath.Join(dir, "spanvault-vm.img")
	res := build(t, image.VM, cfg, img)
	upd := filepath.Join(dir, "update")
	if _, err := image.WriteUpdate(res, upd, nil); err != nil {
		t.Fatal(err)
	}
	const pw = "test" // the instance's Update.HTTPPassword

	t0 := time.Now()
	v := bootVM(t, img, res)
	v.waitStatus(t, "the status page", 3*time.Minute, func(m map[string]any) bool { return m["capture"] != nil })
	t.Logf("boot 1 (%s) answering after %s", v.boot(1).Cmdline, time.Since(t0).Round(time.Second))
	put := func(path, file, want string) {
		t.Helper()
		f, err := os.Open(filepath.Join(upd, file))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		got, err := v.gokrazyAPI("PUT", path, pw, f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(got) != want {
			t.Fatalf("%s: gokrazy wrote sha256 %s, want %s", path, got, want)
		}
	}
	tw := time.Now()
	put("/update/bootonly", image.UpdateBootFile, res.BootSHA256)
	put("/update/root", image.UpdateRootFile, res.RootSHA256)
	if _, err := v.gokrazyAPI("POST", "/update/testboot", pw, nil); err != nil {
		t.Fatal(err)
	}
	t.Logf("boot and root partitions written through gokrazy in %s", time.Since(tw).Round(time.Millisecond))
	if _, err := v.gokrazyAPI("POST", "/reboot?wait_per_signal=10s", pw, nil); err != nil {
		t.Fatal(err)
	}
	tr := time.Now()
	b2 := v.waitBoot(t, 2, 3*time.Minute)
	if !strings.HasSuffix(b2.Cmdline, " gokrazy.try_boot_inactive=1") || !strings.Contains(b2.Cmdline, "-02 ") {
		t.Fatalf("boot 2's command line %q: want root 2 with the test-boot flag", b2.Cmdline)
	}
	v.waitStatus(t, "the status page after the test boot", 3*time.Minute, func(m map[string]any) bool { return m["capture"] != nil })
	t.Logf("test boot: reboot to recording in %s", time.Since(tr).Round(time.Second))
	if s := v.serialSince(2); !strings.Contains(s, "switching to inactive root partition") || strings.Contains(s, "mount inactive root") {
		t.Fatalf("boot 2 did not switch into root 3:\n%s", tail(s, 4000))
	}
	if _, err := v.gokrazyAPI("POST", "/update/switch", pw, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := v.gokrazyAPI("POST", "/reboot?wait_per_signal=10s", pw, nil); err != nil {
		t.Fatal(err)
	}
	b3 := v.waitBoot(t, 3, 3*time.Minute)
	if !strings.Contains(b3.Cmdline, "-03 ") || strings.Contains(b3.Cmdline, "try_boot_inactive") {
		t.Fatalf("boot 3's command line %q: want root 3, no test boot", b3.Cmdline)
	}
	v.waitStatus(t, "the status page on root 3", 3*time.Minute, func(m map[string]any) bool { return m["capture"] != nil })
	if s := v.serialSince(3); !strings.Contains(s, "on device 254:3") {
		t.Fatalf("boot 3 did not mount vda3 as its root:\n%s", tail(s, 4000))
	}
	t.Logf("boot 3 runs root 3 (%s)", b3.Cmdline)
}

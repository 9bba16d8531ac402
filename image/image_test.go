package image_test

import (
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/spanvault/spanvault/image"
)

var repoRoot, _ = filepath.Abs("..")

func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed: run scripts/install-deps.sh", tool)
		}
	}
}

// instance writes an instance configuration with its own key pair and the
// given recorder configuration, and returns its path and identity.
func instance(t *testing.T, recorderCfg string) (string, *age.X25519Identity) {
	t.Helper()
	dir := t.TempDir()
	id, _ := age.GenerateX25519Identity()
	os.WriteFile(filepath.Join(dir, "recipients.txt"), []byte(id.Recipient().String()+"\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "spanvault.toml"), []byte(recorderCfg), 0o600)
	cfg := `{
  "Hostname": "spanvault-test",
  "Packages": ["github.com/spanvault/spanvault/cmd/spanvault"],
  "PackageConfig": {"github.com/spanvault/spanvault/cmd/spanvault": {
    "CommandLineFlags": ["run", "-config", "/etc/spanvault/spanvault.toml"],
    "ExtraFilePaths": {"/etc/spanvault/spanvault.toml": "spanvault.toml", "/etc/spanvault/recipients.txt": "recipients.txt"}}},
  "SerialConsole": "serial0,115200",
  "KernelPackage": "github.com/gokrazy/kernel.rpi",
  "FirmwarePackage": "github.com/gokrazy/firmware",
  "EEPROMPackage": "github.com/gokrazy/rpi-eeprom",
  "Update": {"HTTPPassword": "test"}
}`
	p := filepath.Join(dir, "config.json")
	os.WriteFile(p, []byte(cfg), 0o600)
	return p, id
}

const boxConfig = `
[vault]
dir = "/perm/spanvault/vault"
recipients = "/etc/spanvault/recipients.txt"
min_free = "16MiB"
[capture]
interface = "eth1"
fanout = 1
[status]
listen = ":8080"
[clock]
require_sync = false
`

func build(t *testing.T, target image.Target, cfgPath string, out string) *image.Result {
	t.Helper()
	return buildWith(t, target, cfgPath, out, nil)
}

// buildWith builds with the options edit changed (a serial, flags).
func buildWith(t *testing.T, target image.Target, cfgPath string, out string, edit func(*image.Options)) *image.Result {
	t.Helper()
	needTools(t, "mksquashfs", "mkfs.vfat", "mcopy", "sfdisk", "mkfs.ext4")
	in, dir, err := image.LoadInstance(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	o := image.Options{Instance: in, ConfigDir: dir, Target: target, Out: out,
		Work: filepath.Join(filepath.Dir(out), "work-"+string(target)), RepoRoot: repoRoot,
		SourceDate: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	if edit != nil {
		edit(&o)
	}
	res, err := image.Build(o)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestPiImage: four partitions, the boot files a Pi 4 and Pi 5 need, and
// a root holding gokrazy's init and the recorder as static arm64 programs;
// and two builds give the same root.
func TestPiImage(t *testing.T) {
	cfg, _ := instance(t, boxConfig)
	dir := t.TempDir()
	res := build(t, image.Pi, cfg, filepath.Join(dir, "a", "spanvault-rpi.img"))
	t.Logf("root sha256 %s, %d bytes; image %d bytes sparse, %d allocated; built in %s", res.RootSHA256, res.RootSize, res.ImageSize, res.ImageUsed, res.Took)

	out, err := exec.Command("sfdisk", "-J", res.Image).Output()
	if err != nil {
		t.Fatal(err)
	}
	var pt struct {
		PartitionTable struct {
			Partitions []struct {
				Start, Size int64
				Type        string
			}
		}
	}
	json.Unmarshal(out, &pt)
	parts := pt.PartitionTable.Partitions
	if len(parts) != 4 || parts[0].Type != "c" || parts[1].Type != "83" || parts[3].Type != "83" {
		t.Fatalf("partitions: %+v", parts)
	}
	cmd := exec.Command("mdir", "-b", "-i", fmt.Sprintf("%s@@%d", res.Image, parts[0].Start*512))
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
	listing, err := cmd.Output()
	if err != nil {
		t.Fatalf("mdir: %v", err)
	}
	for _, f := range []string{"vmlinuz", "bcm2711-rpi-4-b.dtb", "bcm2712-rpi-5-b.dtb", "start4.elf", "config.txt", "cmdline.txt", "bootcode.bin"} {
		if !strings.Contains(string(listing), "::/"+f+"\n") {
			t.Errorf("boot partition lacks %s", f)
		}
	}
	root := t.TempDir()
	x := exec.Command("unsquashfs", "-o", fmt.Sprint(parts[1].Start*512), "-d", filepath.Join(root, "r"), res.Image, "gokrazy/init", "user/spanvault", "etc/spanvault")
	if b, err := x.CombinedOutput(); err != nil {
		t.Fatalf("unsquashfs: %v: %s", err, b)
	}
	for _, p := range []string{"gokrazy/init", "user/spanvault"} {
		f, err := elf.Open(filepath.Join(root, "r", p))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if f.Machine != elf.EM_AARCH64 {
			t.Errorf("%s is %v, not aarch64", p, f.Machine)
		}
		for _, prog := range f.Progs {
			if prog.Type == elf.PT_INTERP || prog.Type == elf.PT_DYNAMIC {
				t.Errorf("%s is dynamically linked", p)
			}
		}
		f.Close()
	}
	// Configuration and keys are not world-readable.
	for _, p := range []string{"etc/spanvault/spanvault.toml", "etc/spanvault/recipients.txt"} {
		st, err := os.Stat(filepath.Join(root, "r", p))
		if err != nil || st.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: mode %v %v", p, st.Mode(), err)
		}
	}
	var fw image.Firmware
	if b, err := os.ReadFile(filepath.Join(root, "r", image.FirmwareFile)); err != nil || json.Unmarshal(b, &fw) != nil || fw.Serial != res.Serial || fw.Arch != "arm64" || fw.Version == "" {
		t.Errorf("%s: %+v %v (build serial %d)", image.FirmwareFile, fw, err, res.Serial)
	}
	// Reproducible: a second build in another directory, same root.
	res2 := build(t, image.Pi, cfg, filepath.Join(dir, "b", "spanvault-rpi.img"))
	if res2.RootSHA256 != res.RootSHA256 {
		t.Fatalf("two builds differ: %s vs %s", res.RootSHA256, res2.RootSHA256)
	}
}

// vm runs the emulator image with a user-mode uplink (the status page
// and gokrazy's HTTP API forwarded to local ports) and a second card fed
// as the mirror port. The harness acts as the Pi firmware: on every boot
// it reads cmdline.txt from the disk image's boot partition and passes its
// first line to the kernel; qemu runs with -no-reboot, so a guest reboot
// ends the process and the harness boots again, with whatever the guest
// wrote into cmdline.txt (gokrazy's test boot, its root switch). The
// kernel is always kernel.arm64 from the module cache, not the vmlinuz in
// the boot partition (a Pi boots that one; qemu -M virt cannot).
type vm struct {
	t       *testing.T
	img     string
	stderr  *strings.Builder
	serial  string
	mirror  string
	port    int // the status page (:8080)
	gokrazy int // gokrazy's HTTP API (:80)
	done    chan struct{}

	mu      sync.Mutex
	cmd     *exec.Cmd
	stopped bool
	boots   []vmBoot
	err     error // why the harness stopped booting, if not killed
}

// vmBoot is one boot of the VM.
type vmBoot struct {
	Cmdline string
	Start   time.Time
}

// maxBoots bounds the reboots the harness follows (a kernel panic's
// reboot loop ends there).
const maxBoots = 12

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func kernelArm64(t *testing.T) string {
	out, err := exec.Command("go", "mod", "download", "-json", "github.com/gokrazy/kernel.arm64@v0.0.0-20260705071517-37841c4d6ff1").Output()
	if err != nil {
		t.Fatal(err)
	}
	var m struct{ Dir string }
	json.Unmarshal(out, &m)
	return filepath.Join(m.Dir, "vmlinuz")
}

func bootVM(t *testing.T, img string, res *image.Result) *vm {
	t.Helper()
	dir := t.TempDir()
	v := &vm{t: t, img: img, serial: filepath.Join(dir, "serial.log"), mirror: filepath.Join(dir, "m0.sock"),
		port: freePort(t), gokrazy: freePort(t), done: make(chan struct{}), stderr: &strings.Builder{}}
	kernel := kernelArm64(t)
	start := func(n int) (*exec.Cmd, error) {
		cmdline, err := bootCmdline(img)
		if err != nil {
			return nil, err
		}
		if f, err := os.OpenFile(v.serial, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600); err == nil {
			fmt.Fprintf(f, "\n=== harness: boot %d, cmdline %q\n", n, cmdline)
			f.Close()
		}
		os.Remove(v.mirror) // the last boot's socket
		cmd := exec.Command("qemu-system-aarch64", "-machine", "virt", "-cpu", "cortex-a72", "-smp", "2", "-m", "1024",
			"-kernel", kernel, "-append", cmdline,
			"-drive", "file="+img+",format=raw,if=virtio",
			"-netdev", fmt.Sprintf("user,id=n0,hostfwd=tcp:127.0.0.1:%d-:8080,hostfwd=tcp:127.0.0.1:%d-:80", v.port, v.gokrazy),
			"-device", "virtio-net-pci,netdev=n0,mac=52:54:00:12:34:01,addr=0x3,romfile=",
			"-netdev", "dgram,id=m0,local.type=unix,local.path="+v.mirror+",remote.type=unix,remote.path="+filepath.Join(dir, "peer.sock"),
			"-device", "virtio-net-pci,netdev=m0,mac=52:54:00:12:34:02,addr=0x4,romfile=",
			"-display", "none", "-monitor", "none",
			"-chardev", "file,id=s0,path="+v.serial+",append=on", "-serial", "chardev:s0", "-no-reboot")
		cmd.Stderr = v.stderr
		v.boots = append(v.boots, vmBoot{Cmdline: cmdline, Start: time.Now()})
		return cmd, cmd.Start()
	}
	v.mu.Lock()
	cmd, err := start(1)
	if err != nil {
		v.mu.Unlock()
		t.Fatal(err)
	}
	v.cmd = cmd
	v.mu.Unlock()
	go func() {
		defer close(v.done)
		for n := 2; ; n++ {
			err := cmd.Wait()
			v.mu.Lock()
			switch {
			case v.stopped:
			case err != nil:
				v.err = fmt.Errorf("qemu: %v", err)
			case n > maxBoots:
				v.err = fmt.Errorf("%d boots: a reboot loop?", maxBoots)
			default:
				// The guest rebooted: boot again, as the firmware does.
				cmd, err = start(n)
				if err != nil {
					v.err = err
				} else {
					v.cmd = cmd
				}
			}
			stop := v.stopped || v.err != nil
			v.mu.Unlock()
			if stop {
				return
			}
		}
	}()
	t.Cleanup(func() { v.kill() })
	return v
}

// bootCmdline reads cmdline.txt from the boot partition of a disk image
// and returns what the Pi firmware passes to the kernel (its first line).
func bootCmdline(img string) (string, error) {
	cmd := exec.Command("mtype", "-i", fmt.Sprintf("%s@@%d", img, 8192*512), "::cmdline.txt")
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("mtype cmdline.txt: %v", err)
	}
	return image.KernelCmdline(out), nil
}

// kill cuts the power: no shutdown, no sync; the harness boots no more.
func (v *vm) kill() {
	v.mu.Lock()
	v.stopped = true
	if v.cmd != nil && v.cmd.Process != nil {
		v.cmd.Process.Kill()
	}
	v.mu.Unlock()
	<-v.done
}

// bootCount is how many times the harness has booted the VM.
func (v *vm) bootCount() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.boots)
}

// boot returns boot n (1-based).
func (v *vm) boot(n int) vmBoot {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.boots[n-1]
}

// waitBoot waits until the harness has booted the VM n times.
func (v *vm) waitBoot(t *testing.T, n int, d time.Duration) vmBoot {
	t.Helper()
	deadline := time.Now().Add(d)
	for v.bootCount() < n {
		select {
		case <-v.done:
			b, _ := os.ReadFile(v.serial)
			t.Fatalf("VM stopped while waiting for boot %d: %v %s\n%s", n, v.err, v.stderr, tail(string(b), 3000))
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(v.serial)
			t.Fatalf("timed out waiting for boot %d; serial console:\n%s", n, tail(string(b), 3000))
		}
	}
	return v.boot(n)
}

// serialSince returns the serial console's text since the start of boot n.
func (v *vm) serialSince(n int) string {
	b, _ := os.ReadFile(v.serial)
	s := string(b)
	if i := strings.Index(s, fmt.Sprintf("=== harness: boot %d,", n)); i >= 0 {
		return s[i:]
	}
	return ""
}

// gokrazyAPI calls gokrazy's HTTP API on the VM with its password.
func (v *vm) gokrazyAPI(method, path, password string, body io.Reader) (string, error) {
	req, err := http.NewRequest(method, fmt.Sprintf("http://127.0.0.1:%d%s", v.gokrazy, path), body)
	if err != nil {
		return "", err
	}
	req.SetBasicAuth("gokrazy", password)
	c := http.Client{Timeout: 2 * time.Minute}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(b)))
	}
	return string(b), nil
}

func (v *vm) status(t *testing.T) (map[string]any, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/api/status", v.port))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var m map[string]any
	err = json.NewDecoder(resp.Body).Decode(&m)
	return m, err
}

func (v *vm) waitStatus(t *testing.T, what string, d time.Duration, cond func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		select {
		case <-v.done:
			b, _ := os.ReadFile(v.serial)
			t.Fatalf("VM stopped while waiting for %s: %v %s\n%s", what, v.err, v.stderr, tail(string(b), 3000))
		default:
		}
		if m, err := v.status(t); err == nil && cond(m) {
			return m
		}
		time.Sleep(time.Second)
	}
	b, _ := os.ReadFile(v.serial)
	t.Fatalf("timed out waiting for %s; serial console:\n%s", what, tail(string(b), 3000))
	return nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func num(m map[string]any, a, b string) float64 {
	mm, _ := m[a].(map[string]any)
	f, _ := mm[b].(float64)
	return f
}

func goRun(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"run"}, args...)...)
	cmd.Dir = repoRoot
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go run %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// TestVMBootRecordsAndSurvivesPowerCut boots the emulator image under
// qemu with a second network card as the mirror port, replays calls into
// it, checks the status page counts them, cuts the power mid-call, boots
// again and checks the vault on /perm with fsck.
func TestVMBootRecordsAndSurvivesPowerCut(t *testing.T) {
	if testing.Short() {
		t.Skip("emulator boot skipped in -short mode")
	}
	needTools(t, "qemu-system-aarch64", "debugfs", "e2fsck")
	cfg, id := instance(t, boxConfig)
	dir := t.TempDir()
	img := filepath.Join(dir, "spanvault-vm.img")
	res := build(t, image.VM, cfg, img)
	calls1 := filepath.Join(dir, "calls1.pcap")
	calls2 := filepath.Join(dir, "calls2.pcap")
	goRun(t, "./cmd/sipgen", "-o", calls1, "-calls", "3", "-duration", "4s", "-dtmf", "7", "-seed", "21")
	goRun(t, "./cmd/sipgen", "-o", calls2, "-calls", "4", "-duration", "60s", "-seed", "22")

	t0 := time.Now()
	v := bootVM(t, img, res)
	st := v.waitStatus(t, "the status page", 3*time.Minute, func(m map[string]any) bool { return m["capture"] != nil })
	bootTime := time.Since(t0)
	t.Logf("booted to recording in %s (status page answering; interface %v)", bootTime.Round(time.Second), st["capture"].(map[string]any)["interface"])
	// Frames sent before the socket is bound are not seen: wait a moment
	// after the page answers, the daemon opened its ring before listening.
	out := goRun(t, "./cmd/mirrorfeed", "-unix", v.mirror, "-pps", "500", calls1)
	t.Log(strings.TrimSpace(out))
	st = v.waitStatus(t, "3 calls recorded", 2*time.Minute, func(m map[string]any) bool { return num(m, "calls", "recorded_today") >= 3 })
	if d := num(st, "capture", "kernel_drops"); d != 0 {
		t.Fatalf("kernel drops %v", d)
	}

	// Power cut while four long calls are being recorded.
	feed := exec.Command("go", "run", "./cmd/mirrorfeed", "-unix", v.mirror, "-pps", "500", calls2)
	feed.Dir = repoRoot
	feed.Start()
	v.waitStatus(t, "calls in progress", time.Minute, func(m map[string]any) bool { return num(m, "calls", "in_progress") >= 4 })
	time.Sleep(8 * time.Second)
	v.kill()
	feed.Process.Kill()
	feed.Wait()

	// Reboot: the vault opens and recovers.
	v2 := bootVM(t, img, res)
	st = v2.waitStatus(t, "the status page after the power cut", 3*time.Minute, func(m map[string]any) bool { return m["audit"] != nil })
	if ok, _ := st["audit"].(map[string]any)["ok"].(bool); !ok {
		t.Fatalf("audit chain broken after power cut: %v", st["audit"])
	}
	v2.kill()

	// Read /perm out of the image and check the vault with fsck and the
	// identity.
	perm := filepath.Join(dir, "perm.ext4")
	dd := exec.Command("dd", "if="+img, "of="+perm, "bs=512", fmt.Sprintf("skip=%d", 2260992), "status=none")
	if b, err := dd.CombinedOutput(); err != nil {
		t.Fatalf("dd: %v %s", err, b)
	}
	// Replay the ext4 journal first, as the kernel does at mount: debugfs
	// reads the file system as it lies on disk, and a rename the box made
	// durable may still sit in the journal.
	if err := exec.Command("e2fsck", "-fy", perm).Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() > 1 {
			t.Fatalf("e2fsck of /perm after the power cut: %v", err)
		}
	}
	vdir := filepath.Join(dir, "vault-copy")
	os.MkdirAll(vdir, 0o700)
	if b, err := exec.Command("debugfs", "-R", "rdump /spanvault/vault "+vdir, perm).CombinedOutput(); err != nil {
		t.Fatalf("debugfs: %v %s", err, b)
	}
	idFile := filepath.Join(dir, "id.txt")
	os.WriteFile(idFile, []byte(id.String()+"\n"), 0o600)
	fsckCmd := exec.Command("go", "run", "./cmd/spanvault", "fsck", "-vault", filepath.Join(vdir, "vault"))
	fsckCmd.Dir = repoRoot
	fsckOut, _ := fsckCmd.CombinedOutput()
	if !strings.Contains(string(fsckOut), "\nclean\n") {
		b, _ := os.ReadFile(v2.serial)
		t.Fatalf("fsck after power cut:\n%s\n%s\nserial after reboot:\n%s", fsckOut,
			goRun(t, "./cmd/spanvault", "calls", "-vault", filepath.Join(vdir, "vault")), tail(string(b), 4000))
	}
	list := goRun(t, "./cmd/spanvault", "calls", "-vault", filepath.Join(vdir, "vault"), "-json", "-identity", idFile)
	var raw []map[string]any
	json.Unmarshal([]byte(list[strings.Index(list, "["):]), &raw)
	complete, truncated := 0, 0
	for _, r := range raw {
		switch r["storage"] {
		case "complete":
			complete++
			wav := filepath.Join(dir, fmt.Sprint(r["id"])+".wav")
			goRun(t, "./cmd/spanvault", "export", "-vault", filepath.Join(vdir, "vault"), "-identity", idFile, "-call", fmt.Sprint(r["id"]), "-o", wav)
		case "truncated":
			truncated++
		}
	}
	if complete != 3 || truncated != 4 {
		t.Fatalf("after the power cut: %d complete (want the 3 finished calls), %d truncated (want the 4 interrupted):\n%s", complete, truncated, list)
	}
	t.Logf("boot to recording %s; power cut: 3 finished recordings intact, 4 interrupted recovered as truncated", bootTime.Round(time.Second))
}

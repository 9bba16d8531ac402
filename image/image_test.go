package image_test

import (
	"debug/elf"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
	needTools(t, "mksquashfs", "mkfs.vfat", "mcopy", "sfdisk", "mkfs.ext4")
	in, dir, err := image.LoadInstance(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	res, err := image.Build(image.Options{Instance: in, ConfigDir: dir, Target: target, Out: out,
		Work: filepath.Join(filepath.Dir(out), "work-"+string(target)), RepoRoot: repoRoot,
		SourceDate: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)})
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
	// Reproducible: a second build in another directory, same root.
	res2 := build(t, image.Pi, cfg, filepath.Join(dir, "b", "spanvault-rpi.img"))
	if res2.RootSHA256 != res.RootSHA256 {
		t.Fatalf("two builds differ: %s vs %s", res.RootSHA256, res2.RootSHA256)
	}
}

// vm runs the emulator image with a user-mode uplink (the status page
// forwarded to a local port) and a second card fed as the mirror port.
type vm struct {
	stderr *strings.Builder
	cmd    *exec.Cmd
	serial string
	mirror string
	port   int
	done   chan struct{}
}

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
	v := &vm{serial: filepath.Join(dir, "serial.log"), mirror: filepath.Join(dir, "m0.sock"), port: freePort(t), done: make(chan struct{})}
	cmdline := fmt.Sprintf("console=ttyAMA0,115200 root=PARTUUID=%08x-02 ro init=/gokrazy/init panic=10 oops=panic", res.DiskID)
	v.cmd = exec.Command("qemu-system-aarch64", "-machine", "virt", "-cpu", "cortex-a72", "-smp", "2", "-m", "1024",
		"-kernel", kernelArm64(t), "-append", cmdline,
		"-drive", "file="+img+",format=raw,if=virtio",
		"-netdev", fmt.Sprintf("user,id=n0,hostfwd=tcp:127.0.0.1:%d-:8080", v.port),
		"-device", "virtio-net-pci,netdev=n0,mac=52:54:00:12:34:01,addr=0x3,romfile=",
		"-netdev", "dgram,id=m0,local.type=unix,local.path="+v.mirror+",remote.type=unix,remote.path="+filepath.Join(dir, "peer.sock"),
		"-device", "virtio-net-pci,netdev=m0,mac=52:54:00:12:34:02,addr=0x4,romfile=",
		"-display", "none", "-monitor", "none", "-serial", "file:"+v.serial, "-no-reboot")
	v.stderr = &strings.Builder{}
	v.cmd.Stderr = v.stderr
	if err := v.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { v.cmd.Wait(); close(v.done) }()
	t.Cleanup(func() { v.kill() })
	return v
}

func (v *vm) kill() {
	if v.cmd.Process != nil {
		v.cmd.Process.Kill() // a power cut: no shutdown, no sync
		<-v.done
	}
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
			t.Fatalf("VM stopped while waiting for %s: %s\n%s", what, v.stderr, tail(string(b), 3000))
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

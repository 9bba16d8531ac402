package image_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/image"
	"github.com/spanvault/spanvault/sync/wire"
)

// TestVMUpdateAndRollback (issue 24, acceptance 1, updates): an image
// built for a test archive (serial N) boots under qemu, enrolls, is
// approved and syncs a recorded call. The archive publishes update N+1,
// built by `make image`'s builder and signed with the archive's update
// key, and rolls it out to the box with the CLI: the box downloads it,
// writes it through gokrazy, reboots into it (the harness follows the
// reboot with the command line gokrazy's test boot wrote), checks in
// running N+1 and confirmed, and records and syncs on it. Then update
// N+2, whose daemon never starts (its configuration file is missing), is
// rolled out: the box test-boots it, the init's watchdog reboots it when
// it has not confirmed in time, the box runs N+1 again and reports the
// update rolled back with the failure, and the archive's rollout shows
// the box failed.
//
// It takes several minutes (two image builds, four reboots, the
// watchdog's minute): `make image-test` runs it (SPANVAULT_VM_UPDATE=1);
// plain `go test` skips it.
func TestVMUpdateAndRollback(t *testing.T) {
	if testing.Short() {
		t.Skip("emulator boot skipped in -short mode")
	}
	if os.Getenv("SPANVAULT_VM_UPDATE") == "" {
		t.Skip("long (several minutes under qemu): set SPANVAULT_VM_UPDATE=1 (make image-test does)")
	}
	needTools(t, "qemu-system-aarch64", "mtype")
	dir := t.TempDir()
	cli := filepath.Join(dir, "spanvault-archive")
	if out, err := goCmd("build", "-o", cli, "./cmd/spanvault-archive").CombinedOutput(); err != nil {
		t.Fatalf("go build spanvault-archive: %v\n%s", err, out)
	}
	var missing []string
	if out, _ := exec.Command(cli, "update", "help").CombinedOutput(); !strings.Contains(string(out), "update roll") {
		missing = append(missing, "the archive side (branch upd-archive: spanvault-archive update publish|roll|status, offers at check-in, GET /sync/v1/update/{serial}/root|boot)")
	}
	if _, err := os.Stat(filepath.Join(repoRoot, "appliance", "firmware")); err != nil {
		missing = append(missing, "the box side (branch upd-box: appliance/firmware, the daemon's updater, cmd/init's rollback watchdog)")
	}
	if len(missing) > 0 {
		t.Skipf("not in this tree yet: %s", strings.Join(missing, "; "))
	}

	const n = 100 // the serial the box is built with
	va := startVMArchive(t)
	op := newVMOperator(t, va.a)
	cfg, _ := instance(t, va.boxConfig())
	img := filepath.Join(dir, "spanvault-vm.img")
	res := buildWith(t, image.VM, cfg, img, func(o *image.Options) { o.Serial, o.Version = n, "vm-100" })
	calls := filepath.Join(dir, "calls.pcap")
	goRun(t, "./cmd/sipgen", "-o", calls, "-calls", "2", "-duration", "4s", "-seed", "24")
	after := filepath.Join(dir, "after.pcap")
	goRun(t, "./cmd/sipgen", "-o", after, "-calls", "1", "-duration", "4s", "-seed", "25")

	// Enrolled, approved, syncing a recorded call.
	t0 := time.Now()
	v := bootVM(t, img, res)
	var code string
	v.waitStatus(t, "the enrollment code", 4*time.Minute, func(m map[string]any) bool {
		en, _ := m["enroll"].(map[string]any)
		code, _ = en["code"].(string)
		return en["state"] == "pending" && code != ""
	})
	if err := va.a.Approve(context.Background(), strings.ToLower(code), "branch-vm", "admin", ""); err != nil {
		t.Fatal(err)
	}
	v.waitStatus(t, "the approved box to sync", 2*time.Minute, func(m map[string]any) bool {
		s, _ := m["sync"].(map[string]any)
		return s["configured"] == true && s["last_success"] != nil
	})
	t.Log(strings.TrimSpace(goRun(t, "./cmd/mirrorfeed", "-unix", v.mirror, "-pps", "500", calls)))
	waitRecordings(t, va, "branch-vm", 2)
	h := waitHealth(t, va, v, "the box's check-in running serial 100", time.Minute, func(h wire.Health) bool { return h.FirmwareSerial == n })
	t.Logf("enrolled and syncing serial %d %s after boot (update state %q)", h.FirmwareSerial, time.Since(t0).Round(time.Second), h.UpdateState)

	// Updates N+1 and N+2, signed with the archive's update key.
	keyFile := filepath.Join(va.dir, "update.key")
	key, err := image.LoadUpdateKey(keyFile)
	if err != nil {
		t.Fatalf("the archive's update key (made at its first use, pinned by the box at enrollment): %v", err)
	}
	up1, res1 := buildUpdate(t, cfg, filepath.Join(dir, "n1"), n+1, nil, key)
	up2, _ := buildUpdate(t, cfg, filepath.Join(dir, "n2"), n+2, func(pc *image.PackageConfig) {
		pc.CommandLineFlags = []string{"run", "-config", "/etc/spanvault/missing.toml"}
	}, key)

	// Watch the status page (the recorder's capture) throughout.
	watch := watchCapture(v)
	defer watch.stop()

	// N+1: published, rolled out, downloaded, written, rebooted into,
	// confirmed.
	t.Log(strings.TrimSpace(op.run(t, cli, "update", "publish", "-dir", va.dir, "-update", up1)))
	states := watchStates(va, "branch-vm")
	defer states.stop()
	tRoll := time.Now()
	id1 := roll(t, op, cli, va.dir, n+1, "branch-vm")
	b2 := v.waitBoot(t, 2, 10*time.Minute)
	if !strings.Contains(b2.Cmdline, "gokrazy.try_boot_inactive=1") {
		t.Fatalf("the box rebooted without gokrazy's test boot: %q", b2.Cmdline)
	}
	v.waitStatus(t, "the status page on N+1", 3*time.Minute, func(m map[string]any) bool { return m["capture"] != nil })
	tUp := time.Now()
	h = waitHealth(t, va, v, "the box's check-in running N+1, confirmed", 5*time.Minute, func(h wire.Health) bool {
		return h.FirmwareSerial == n+1 && h.UpdateState == wire.UpdateConfirmed
	})
	tConfirmed := time.Now()
	// gokrazy's switch made the test-booted root the one to boot.
	const n1Root = "-03 "
	if cl, err := bootCmdline(img); err != nil || !strings.Contains(cl, n1Root) {
		t.Fatalf("after the confirmation the boot partition boots %q (%v), want root 3", cl, err)
	}
	if st := rolloutStatus(t, cli, va.dir, id1); st.box("branch-vm") != "confirmed" {
		t.Fatalf("rollout %d after the confirmation: %+v", id1, st)
	}
	// Confirmed in the test boot, the box reboots once more into a boot
	// whose command line names N+1's root (appliance/update_testboot.go).
	k, bc := v.waitBootWhere(t, 3, 5*time.Minute, "the reboot out of the test boot", func(vmBoot) bool { return true })
	if strings.Contains(bc.Cmdline, "try_boot_inactive") || !strings.Contains(bc.Cmdline, n1Root) {
		t.Fatalf("the reboot after the confirmation boots %q, want %s (N+1) without the test-boot flag", bc.Cmdline, n1Root)
	}
	v.waitStatus(t, "the status page after the reboot out of the test boot", 3*time.Minute, func(m map[string]any) bool { return m["capture"] != nil })
	t.Log(strings.TrimSpace(goRun(t, "./cmd/mirrorfeed", "-unix", v.mirror, "-pps", "500", after)))
	waitRecordings(t, va, "branch-vm", 3)
	t.Logf("N+1: roll to reboot %s (offer at a check-in, download %d+%d bytes, write through gokrazy), reboot to recording %s, reboot to confirmed at check-in %s, confirmed to the reboot out of the test boot %s",
		b2.Start.Sub(tRoll).Round(time.Second), res1.RootSize, res1.BootSize,
		tUp.Sub(b2.Start).Round(time.Second), tConfirmed.Sub(b2.Start).Round(time.Second), bc.Start.Sub(tConfirmed).Round(time.Second))

	// N+2: its daemon never starts; the watchdog boots N+1 again.
	t.Log(strings.TrimSpace(op.run(t, cli, "update", "publish", "-dir", va.dir, "-update", up2)))
	tRoll2 := time.Now()
	id2 := roll(t, op, cli, va.dir, n+2, "branch-vm")
	i3, b3 := v.waitBootWhere(t, k+1, 10*time.Minute, "N+2's test boot", func(b vmBoot) bool {
		return strings.Contains(b.Cmdline, "gokrazy.try_boot_inactive=1")
	})
	if i3 != k+1 {
		t.Fatalf("boots before N+2's test boot: %s", v.bootList())
	}
	_, b4 := v.waitBootWhere(t, i3+1, 10*time.Minute, "the boot after N+2's test boot", func(vmBoot) bool { return true })
	if strings.Contains(b4.Cmdline, "try_boot_inactive") || !strings.Contains(b4.Cmdline, n1Root) {
		t.Fatalf("after N+2's test boot (%q) the box boots %q, want %s (N+1) again", b3.Cmdline, b4.Cmdline, n1Root)
	}
	if s := v.serialSince(i3); !strings.Contains(s, "switching to inactive root partition") {
		t.Fatalf("boot %d did not test-boot the other root:\n%s", i3, tail(s, 4000))
	}
	h = waitHealth(t, va, v, "the box's check-in running N+1 again, N+2 rolled back", 5*time.Minute, func(h wire.Health) bool {
		if h.FirmwareSerial == n {
			t.Fatalf("after N+2's rollback the box runs N (serial %d), not N+1: N+2 overwrote N+1's root (written while gokrazy's update target was the running root, see TestVMRebootABSwitch)", n)
		}
		return h.FirmwareSerial == n+1 && h.UpdateState == wire.UpdateRolledBack && h.UpdateSerial == n+2
	})
	tBack := time.Now()
	if h.UpdateFailure == "" {
		t.Fatalf("rolled back without a failure reported: %+v", h)
	}
	st := rolloutStatus(t, cli, va.dir, id2)
	if st.box("branch-vm") != "failed" {
		t.Fatalf("rollout %d after the rollback: %+v", id2, st)
	}
	t.Logf("states the box reported at check-in, first seen: %s", states)
	t.Logf("N+2: roll to test boot %s, test boot to watchdog reboot %s, watchdog reboot to rolled back at check-in %s; failure %q; rollout %d %s (%s)",
		b3.Start.Sub(tRoll2).Round(time.Second), b4.Start.Sub(b3.Start).Round(time.Second), tBack.Sub(b4.Start).Round(time.Second),
		h.UpdateFailure, id2, st.State, st.EndReason)
	watch.stop()
	t.Logf("capture down (the status page polled every 250 ms): %s at N+1's reboot, %s at the reboot out of its test boot, %s from N+2's test boot to N+1 recording again",
		watch.gapAround(b2.Start).Round(100*time.Millisecond), watch.gapAround(bc.Start).Round(100*time.Millisecond),
		watch.gapAround(b4.Start).Round(100*time.Millisecond))
	t.Logf("boots: %s", v.bootList())
}

func goCmd(args ...string) *exec.Cmd {
	cmd := exec.Command("go", args...)
	cmd.Dir = repoRoot
	return cmd
}

func runCLI(t *testing.T, cli string, args ...string) string {
	t.Helper()
	out, err := exec.Command(cli, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("spanvault-archive %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// buildUpdate builds the instance with a serial (and changed recorder
// flags) and writes its update directory, signed.
func buildUpdate(t *testing.T, cfg, dir string, serial uint64, edit func(*image.PackageConfig), key ed25519.PrivateKey) (string, *image.Result) {
	t.Helper()
	res := buildWith(t, image.VM, cfg, filepath.Join(dir, "spanvault-vm.img"), func(o *image.Options) {
		o.Serial, o.Version = serial, fmt.Sprintf("vm-%d", serial)
		if edit != nil {
			pc := o.Instance.PackageConfig[image.Recorder]
			edit(&pc)
			o.Instance.PackageConfig[image.Recorder] = pc
		}
	})
	upd := filepath.Join(dir, "update")
	if _, err := image.WriteUpdate(res, upd, key); err != nil {
		t.Fatal(err)
	}
	return upd, res
}

var rolloutRe = regexp.MustCompile(`rollout (\d+) of update`)

// roll rolls an update out to one box, as the canary, with the shortest
// confirmation time the archive allows.
func roll(t *testing.T, op *vmOperator, cli, adir string, serial uint64, box string) int64 {
	t.Helper()
	out := op.run(t, cli, "update", "roll", "-dir", adir, "-serial", fmt.Sprint(serial), "-target", "box:"+box, "-canary", box,
		"-percent", "100", "-threshold", "0", "-confirm", "1m", "-deadline", "30m")
	m := rolloutRe.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("update roll: %s", out)
	}
	var id int64
	fmt.Sscan(m[1], &id)
	t.Log(strings.TrimSpace(out))
	return id
}

// rollout is what `update status -json` says of a rollout.
type rollout struct {
	State     string `json:"state"`
	EndReason string `json:"end_reason"`
	Boxes     []struct {
		Appliance, State, Reason string
	} `json:"boxes"`
}

func (r rollout) box(name string) string {
	for _, b := range r.Boxes {
		if b.Appliance == name {
			return b.State
		}
	}
	return ""
}

func rolloutStatus(t *testing.T, cli, adir string, id int64) rollout {
	t.Helper()
	var r rollout
	out := runCLI(t, cli, "update", "status", "-dir", adir, "-rollout", fmt.Sprint(id), "-json")
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("update status -json: %v: %s", err, out)
	}
	return r
}

// waitHealth waits for the box's last check-in, as the archive keeps it,
// to satisfy cond.
func waitHealth(t *testing.T, va *vmArchive, v *vm, what string, d time.Duration, cond func(wire.Health) bool) wire.Health {
	t.Helper()
	deadline := time.Now().Add(d)
	var h wire.Health
	for {
		if ap, err := va.a.Index.Appliance(context.Background(), "branch-vm"); err == nil && ap.Health != "" {
			h = wire.Health{}
			if json.Unmarshal([]byte(ap.Health), &h) == nil && cond(h) {
				return h
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; last check-in: firmware %d, update %q serial %d, failure %q\n%s",
				what, h.FirmwareSerial, h.UpdateState, h.UpdateSerial, h.UpdateFailure, v.diagnose())
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func waitRecordings(t *testing.T, va *vmArchive, box string, n int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		rs, err := va.a.Index.Records(context.Background(), index.Query{Appliance: box, Kind: wire.KindRecording})
		if err == nil && len(rs) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the archive holds %d recordings of %s, want %d (%v)", len(rs), box, n, err)
		}
		time.Sleep(2 * time.Second)
	}
}

// captureWatch polls the box's status page and remembers when the
// recorder answered with its capture running.
type captureWatch struct {
	once sync.Once
	mu   sync.Mutex
	ups  []time.Time
	quit chan struct{}
	done chan struct{}
}

func watchCapture(v *vm) *captureWatch {
	w := &captureWatch{quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			if m, err := v.status(nil); err == nil && m["capture"] != nil {
				w.mu.Lock()
				w.ups = append(w.ups, time.Now())
				w.mu.Unlock()
			}
			select {
			case <-w.quit:
				return
			case <-time.After(250 * time.Millisecond):
			}
		}
	}()
	return w
}

func (w *captureWatch) stop() { w.once.Do(func() { close(w.quit) }); <-w.done }

// gapAround is how long the capture did not answer around a moment: from
// its last answer before to its first after.
func (w *captureWatch) gapAround(at time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	var before, after time.Time
	for _, u := range w.ups {
		if u.Before(at) {
			before = u
		} else if after.IsZero() {
			after = u
		}
	}
	if before.IsZero() || after.IsZero() {
		return 0
	}
	return after.Sub(before)
}

// stateWatch records when the archive first saw each update state of a
// box at its check-ins.
type stateWatch struct {
	mu    sync.Mutex
	t0    time.Time
	seen  map[string]time.Time
	order []string
	quit  chan struct{}
	done  chan struct{}
}

func watchStates(va *vmArchive, box string) *stateWatch {
	w := &stateWatch{t0: time.Now(), seen: map[string]time.Time{}, quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			if ap, err := va.a.Index.Appliance(context.Background(), box); err == nil {
				var h wire.Health
				if json.Unmarshal([]byte(ap.Health), &h) == nil {
					k := fmt.Sprintf("%d:%s@%d", h.FirmwareSerial, h.UpdateState, h.UpdateSerial)
					w.mu.Lock()
					if _, ok := w.seen[k]; !ok {
						w.seen[k] = time.Now()
						w.order = append(w.order, k)
					}
					w.mu.Unlock()
				}
			}
			select {
			case <-w.quit:
				return
			case <-time.After(250 * time.Millisecond):
			}
		}
	}()
	return w
}

func (w *stateWatch) stop() { close(w.quit); <-w.done }

// String lists the states (running:state@serial) in the order first seen,
// with the time since the watch began.
func (w *stateWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var b strings.Builder
	for _, k := range w.order {
		fmt.Fprintf(&b, "%s +%s; ", k, w.seen[k].Sub(w.t0).Round(time.Second))
	}
	return strings.TrimSuffix(b.String(), "; ")
}

// diagnose describes the VM for a failure: its boots, its status page,
// the recorder's log (gokrazy keeps it) and the serial console's end.
func (v *vm) diagnose() string {
	var b strings.Builder
	fmt.Fprintf(&b, "boots: %s\n", v.bootList())
	if m, err := v.status(nil); err == nil {
		j, _ := json.Marshal(m["firmware"])
		fmt.Fprintf(&b, "status page firmware: %s\n", j)
	} else {
		fmt.Fprintf(&b, "status page: %v\n", err)
	}
	if out, err := v.gokrazyAPI("GET", "/status?path=/user/spanvault", "test", nil); err == nil {
		fmt.Fprintf(&b, "recorder's log:\n%s\n", tail(tagRe.ReplaceAllString(out, ""), 6000))
	} else {
		fmt.Fprintf(&b, "recorder's log: %v\n", err)
	}
	sb, _ := os.ReadFile(v.serial)
	fmt.Fprintf(&b, "serial console:\n%s", tail(string(sb), 5000))
	return b.String()
}

var tagRe = regexp.MustCompile(`<[^>]*>`)

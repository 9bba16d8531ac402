//go:build linux

package appliance_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/ca"
	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/capture/ring/ringtest"
	"github.com/spanvault/spanvault/internal/testkit"
	"github.com/spanvault/spanvault/sync/wire"
)

// The end-to-end tests' kit for the box with its archive: the daemon
// (box, newBox) syncs to spanvault-archive serving in the same network
// namespace (startArchive), and sipp places the calls it records
// (answerCalls, placeCalls).

// schedule is when a box syncs: its upload window and check-in
// interval, as a [sync] section writes them ("00:00-24:00", "10s").
type schedule struct{ Window, CheckInEvery string }

// archiveOptions is what startArchive sets up before the archive serves.
type archiveOptions struct {
	// Listen is the address the archive serves boxes on, in the namespace.
	Listen string
	// Enroll, when set, is the name of a box the operator enrolls before
	// the archive serves; syncSection is the section enroll wrote for it.
	Enroll string
	// Approved, when set, is the schedule the archive's [enroll] section
	// gives the boxes it approves (zero-touch enrollment).
	Approved *schedule
}

// testArchive is an archive (archive.Init) served by the
// spanvault-archive binary inside a box's network namespace.
type testArchive struct {
	t        *testing.T
	dir      string        // the archive's directory
	bin      string        // the spanvault-archive binary
	log      *lockedBuffer // what serve writes
	enrolled string        // where enroll wrote the box's files (Enroll)
}

// startArchive initialises an archive, sets it up as o says and serves
// it in ns until the test ends.
func startArchive(t *testing.T, ns *ringtest.Netns, o archiveOptions) *testArchive {
	t.Helper()
	a := &testArchive{t: t, dir: filepath.Join(t.TempDir(), "archive"), log: &lockedBuffer{}}
	if err := archive.Init(a.dir, archive.InitOptions{Name: "e2e-archive", Listen: o.Listen}); err != nil {
		t.Fatal(err)
	}
	if o.Enroll != "" {
		ar, err := archive.Open(a.dir)
		if err != nil {
			t.Fatal(err)
		}
		a.enrolled = filepath.Join(t.TempDir(), "enroll")
		_, err = ar.Enroll(context.Background(), o.Enroll, a.enrolled, nil)
		ar.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	if o.Approved != nil {
		a.setApproved(*o.Approved)
	}
	a.bin = testkit.GoBuild(t, "../cmd/spanvault-archive")
	srv := ns.Command(a.bin, "serve", "-dir", a.dir)
	srv.Stdout, srv.Stderr = a.log, a.log
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	return a
}

// setApproved writes s into the [enroll] section of archive.toml, which
// Init writes with an empty window and no check-in interval.
func (a *testArchive) setApproved(s schedule) {
	a.t.Helper()
	path := filepath.Join(a.dir, "archive.toml")
	cfg, err := os.ReadFile(path)
	if err != nil {
		a.t.Fatal(err)
	}
	out := regexp.MustCompile(`(?m)^  window = ""$`).ReplaceAllString(string(cfg), `  window = "`+s.Window+`"`)
	out = regexp.MustCompile(`(?m)^  check_in_every = "0s"$`).ReplaceAllString(out, `  check_in_every = "`+s.CheckInEvery+`"`)
	if out == string(cfg) {
		a.t.Fatalf("no [enroll] section in %s", cfg)
	}
	if err := os.WriteFile(path, []byte(out), 0o600); err != nil {
		a.t.Fatal(err)
	}
}

// syncSection is the [sync] section enroll wrote for the box (Enroll),
// with s's window and check-in interval in place of enroll's.
func (a *testArchive) syncSection(s schedule) string {
	a.t.Helper()
	section, err := os.ReadFile(filepath.Join(a.enrolled, "sync.toml"))
	if err != nil {
		a.t.Fatal(err)
	}
	out := regexp.MustCompile(`(?m)^window = .*$`).ReplaceAllString(string(section), `window = "`+s.Window+`"`)
	return regexp.MustCompile(`(?m)^check_in_every = .*$`).ReplaceAllString(out, `check_in_every = "`+s.CheckInEvery+`"`)
}

// caFingerprint is the archive's CA certificate as a box's [enroll]
// section pins it: "sha256:" and the hex of its hash.
func (a *testArchive) caFingerprint() string {
	a.t.Helper()
	c, err := ca.ReadCert(filepath.Join(a.dir, "ca", "ca.crt"))
	if err != nil {
		a.t.Fatal(err)
	}
	sum := sha256.Sum256(c.Raw)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// run runs a spanvault-archive command and returns its output.
func (a *testArchive) run(args ...string) (string, error) {
	out, err := exec.Command(a.bin, args...).CombinedOutput()
	return string(out), err
}

// admin runs a spanvault-archive command that must succeed.
func (a *testArchive) admin(args ...string) string {
	a.t.Helper()
	out, err := a.run(args...)
	if err != nil {
		a.t.Fatalf("spanvault-archive %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// opsRunner runs the commands that check their operator (approve,
// update roll) as "ops", an admin of the access service: each run types
// ops's password and a current code on stdin.
type opsRunner struct {
	a    *testArchive
	op   operator
	skew time.Duration
}

// ops adds the operator "ops" (approver) to the archive.
func (a *testArchive) ops() *opsRunner {
	a.t.Helper()
	return &opsRunner{a: a, op: approver(a.t, a.dir)}
}

// run runs a spanvault-archive command with ops's password and code.
func (o *opsRunner) run(args ...string) (string, error) {
	c := exec.Command(o.a.bin, args...)
	c.Stdin = strings.NewReader(o.op.password + "\n" + o.op.code(o.a.t, o.skew) + "\n")
	o.skew += 30 * time.Second // a code is good once: the next run takes the next step
	out, err := c.CombinedOutput()
	return string(out), err
}

// recordings are the recordings the archive's index holds of a box.
func (a *testArchive) recordings(box string) ([]index.Record, error) {
	x, err := index.Open(filepath.Join(a.dir, "index.db"))
	if err != nil {
		return nil, err
	}
	defer x.Close()
	return x.Records(context.Background(), index.Query{Appliance: box, Kind: wire.KindRecording})
}

// appliance is what the archive's index holds of a box.
func (a *testArchive) appliance(box string) (*index.Appliance, error) {
	x, err := index.Open(filepath.Join(a.dir, "index.db"))
	if err != nil {
		return nil, err
	}
	defer x.Close()
	return x.Appliance(context.Background(), box)
}

// callee is sipp answering calls to the branch on 127.0.0.1:5070.
type callee struct {
	t     *testing.T
	ns    *ringtest.Netns
	uas   *sippRun
	plain string // the caller's scenario: audio and a DTMF digit
}

// answerCalls starts sipp in ns answering n calls, and gives it a moment
// to bind its port.
func answerCalls(t *testing.T, ns *ringtest.Netns, n int) *callee {
	t.Helper()
	work := t.TempDir()
	c := &callee{t: t, ns: ns}
	c.uas = sipp(t, ns, "-sf", scenario(t, work, "uas.xml"), "-i", "127.0.0.1", "-p", "5070", "-mi", "127.0.0.1", "-mp", "20000", "-m", strconv.Itoa(n))
	time.Sleep(200 * time.Millisecond)
	c.plain = scenario(t, work, "uac.xml", "[$audio]", "/usr/share/sip-tester/g711a.pcap", dtmfBlock, "")
	return c
}

// call places n calls from 3001, ten a second, and waits until they
// have ended.
func (c *callee) call(n int) {
	c.t.Helper()
	sipp(c.t, c.ns, "127.0.0.1:5070", "-sf", c.plain, "-s", "3001", "-i", "127.0.0.1", "-p", "6070", "-mi", "127.0.0.1", "-mp", "30000", "-m", strconv.Itoa(n), "-r", "10").wait(c.t)
}

// wait waits until the callee has answered all its calls.
func (c *callee) wait() {
	c.t.Helper()
	c.uas.wait(c.t)
}

// placeCalls places n calls to the branch and waits until they have
// ended.
func placeCalls(t *testing.T, ns *ringtest.Netns, n int) {
	t.Helper()
	c := answerCalls(t, ns, n)
	c.call(n)
	c.wait()
}

package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/capture"
	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/decode"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/record/evidence"
	"github.com/spanvault/spanvault/sync/client"
	"github.com/spanvault/spanvault/vault"
)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestEvidenceCommand: a box records calls and syncs; the night after it
// sends the day's coverage ledger; then `spanvault-archive evidence
// -appliance NAME -id ID -reason WHY -by NAME` files an export that a
// second person approves; `evidence -request N -o FILE -by NAME` then
// writes a bundle (mode 0600, audited under the requester)
// that verifies offline, `verify` reports the ledger checked (and,
// once a recording is removed behind the archive's back, fails naming
// it), and an unknown recording is refused with the reason and no file.
func TestEvidenceCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "archive")
	if _, e, code := run(t, "init", "-dir", dir, "-listen", "127.0.0.1:0"); code != 0 {
		t.Fatalf("init: %s", e)
	}
	clk := &testClock{t: time.Now().UTC()}
	if clk.Now().Hour() < 2 {
		clk.Add(2 * time.Hour) // the calls start today, over an hour ago
	}
	start := clk.Now().Truncate(24 * time.Hour).Add(time.Minute)
	a, err := archive.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	a.Now = clk.Now
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
			a.Close()
		}
	}
	t.Cleanup(stop)
	enr, err := a.Enroll(context.Background(), "branch-1", filepath.Join(t.TempDir(), "enroll"), nil)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := age.GenerateX25519Identity()
	v, err := vault.Open(vault.Options{Dir: filepath.Join(t.TempDir(), "vault"), Recipients: []age.Recipient{id.Recipient()}, Now: clk.Now, ClockSynced: func() bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	tr := calls.NewTracker(calls.Config{}, v, v)
	p := capture.NewPipeline(decode.New(decode.DefaultOptions), tr)
	synth.New(synth.Config{Calls: 2, Duration: 2 * time.Second, Start: start, Seed: 3}).Each(func(f synth.Frame) { p.Handle(f.Data, decode.LinkEthernet, f.Time) })
	p.Close("capture ended")
	c, err := client.New(client.Config{Name: "branch-1", Archives: []string{ln.Addr().String()},
		Cert: filepath.Join(enr.Dir, "sync.crt"), Key: filepath.Join(enr.Dir, "sync.key"), CA: filepath.Join(enr.Dir, "ca.crt"),
		AnchorKey: filepath.Join(enr.Dir, "anchor.vkey"), Now: clk.Now}, v)
	if err != nil {
		t.Fatal(err)
	}
	pass := func() {
		t.Helper()
		pctx, pcancel := context.WithTimeout(context.Background(), time.Minute)
		defer pcancel()
		if err := c.Pass(pctx, client.Options{Upload: true}); err != nil {
			t.Fatal(err)
		}
	}
	pass()
	es, _ := v.List()
	var rec string
	for _, e := range es {
		if e.Recorded {
			rec = e.ID
			break
		}
	}
	if rec == "" {
		t.Fatal("nothing recorded")
	}
	clk.Add(24 * time.Hour)
	pass()
	stop()

	// An export: filed by compliance, approved by a DPO, written once.
	staff := cliEnvAt(t, dir, map[string]cliUser{"carl": {role: access.Compliance, branches: []string{"branch-1"}}, "dana": {role: access.DPO}})
	o, e, code := staff.as("carl", "evidence", "-appliance", "branch-1", "-id", rec, "-reason", "court")
	if code != 0 {
		t.Fatalf("evidence filed: %d %s %s", code, o, e)
	}
	req := filed(t, o)
	if o, e, code := staff.as("dana", "request", "approve", "-id", req); code != 0 {
		t.Fatalf("evidence approved: %d %s %s", code, o, e)
	}
	out := filepath.Join(t.TempDir(), "bundle.svev")
	o, e, code = staff.as("carl", "evidence", "-request", req, "-o", out)
	if code != 0 || !strings.Contains(o, "export "+req+" written to "+out+" (evidence") {
		t.Fatalf("evidence: %d %s %s", code, o, e)
	}
	fi, err := os.Stat(out)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("bundle file: %v %v", fi, err)
	}
	b, _ := os.ReadFile(out)
	vkey, _ := os.ReadFile(filepath.Join(enr.Dir, "anchor.vkey"))
	if rep, err := evidence.Verify(b, evidence.Options{LogKey: string(vkey)}); err != nil || rep.ID != rec {
		t.Fatalf("the bundle does not verify: %v", err)
	}
	if o, e, code := run(t, "verify", "-dir", dir); code != 0 || !strings.Contains(o, "1 coverage ledgers checked") {
		t.Fatalf("verify: %d %s %s", code, o, e)
	}
	if o, _, _ := run(t, "events", "-dir", dir); !strings.Contains(o, `"kind":"export","actor":"carl"`) || !strings.Contains(o, "format evidence") {
		t.Fatalf("the export is not in the trail:\n%s", o)
	}
	// A recording removed behind the archive's back (its object and its
	// index row): verify fails and names it, from the day's ledger.
	a2, err := archive.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	sum := pbSum(t, b)
	if _, err := a2.Index.DB().ExecContext(context.Background(), `DELETE FROM records WHERE appliance = 'branch-1' AND id = ?`, rec); err != nil {
		t.Fatal(err)
	}
	a2.Close()
	if err := os.Remove(filepath.Join(dir, "store", "objects", sum[:2], sum)); err != nil {
		t.Fatal(err)
	}
	if o, e, code := run(t, "verify", "-dir", dir); code == 0 || !strings.Contains(o, "PROBLEM: branch-1/"+rec+": listed in the coverage ledger") {
		t.Fatalf("verify after %s was removed: %d %s %s", rec, code, o, e)
	}
	if _, e, code := staff.as("carl", "evidence", "-appliance", "branch-1", "-id", "06abc", "-reason", "court"); code == 0 || !strings.Contains(e, "no such recording") {
		t.Fatalf("evidence of an unknown recording: %d %s", code, e)
	}
}

// pbSum is the SHA-256 of a bundle's recording.
func pbSum(t *testing.T, b []byte) string {
	t.Helper()
	pb, err := evidence.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(pb.Recording)
	return hex.EncodeToString(s[:])
}

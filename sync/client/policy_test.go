package client_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/appliance/config"
	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/sync/client"
	"github.com/spanvault/spanvault/sync/wire"
	"github.com/spanvault/spanvault/vault/retention"
)

// policyBox is e's box running a client that applies central policies
// the way the daemon does: validated by the box's own configuration, the
// retention put in force in its vault.
type policyBox struct {
	e   *env
	cfg *config.Config
	c   *client.Client
}

func (e *env) policyBox(t *testing.T) *policyBox {
	cfg := config.Default()
	cfg.Vault.Dir, cfg.Vault.Recipients = e.vdir, filepath.Join(e.vdir, "recipients.txt")
	cfg.Retention = *e.policy
	cfg.Sync = config.Sync{Name: e.box, Archives: []string{e.addr}, Cert: filepath.Join(e.enroll, "sync.crt"), Key: filepath.Join(e.enroll, "sync.key"),
		CA: filepath.Join(e.enroll, "ca.crt"), PolicyKey: filepath.Join(e.enroll, "policy.pub"), Window: "01:00-05:00"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	b := &policyBox{e: e, cfg: cfg}
	cc := e.config()
	cc.PolicyKey = cfg.Sync.PolicyKey
	cc.OnPolicy = func(d *wire.PolicyDoc) ([]string, error) {
		nc, restart, err := b.cfg.ApplyPolicy(d)
		if err != nil {
			return nil, err
		}
		ret := nc.Retention
		if _, err := e.v.SetPolicy(&ret); err != nil {
			return nil, err
		}
		b.cfg = nc
		return restart, nil
	}
	var err error
	if b.c, err = client.New(cc, e.v); err != nil {
		t.Fatal(err)
	}
	return b
}

// checkIn is a pass outside the window: a check-in only.
func (b *policyBox) checkIn(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := b.c.Pass(ctx, client.Options{Upload: false}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) boxAudit(t *testing.T, action string) []string {
	head, err := e.v.AuditHead()
	if err != nil {
		t.Fatal(err)
	}
	es, err := e.v.AuditEntries(1, int(head.Seq))
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

func (e *env) alerts(t *testing.T, kind string) []string {
	evs, err := e.arch.Index.Events(context.Background(), kind, true)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Detail)
	}
	return out
}

// TestPolicyReachesBox (acceptance 2): a retention class shortened (the
// box's grace period for a trading desk's recordings the archive holds;
// a legal class may not be shortened, TestPolicyKeepsLegalRetention) and the sync
// window moved at the archive reach the running box at its next
// check-in; the sweep deletes by the new class, the window is the new
// one, and the box reports the version, which the archive records.
func TestPolicyReachesBox(t *testing.T) {
	e := newEnv(t)
	e.policy.Classes = append(e.policy.Classes, retention.Class{Name: "desk", Record: true, MaxAge: retention.Duration(90 * day), Grace: retention.Duration(30 * day)})
	e.policy.Rules = []retention.Rule{{Numbers: []string{"+4930555000*"}, Class: "desk"}}
	b := e.policyBox(t)
	// Three calls of the desk, at the archive: the box keeps its copies for
	// the class's grace period of 30 days after the acknowledgement.
	e.record(synth.Config{Calls: 3, Duration: time.Second, Start: e.clock.Now().Add(-time.Hour)})
	if err := e.pass(b.c); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(10 * day)
	res, err := e.v.Sweep()
	if err != nil || res.Deleted != 0 {
		t.Fatalf("before the policy, the class's 30-day grace deleted %d (%v)", res.Deleted, err)
	}
	ctx := context.Background()
	v, err := e.arch.SetPolicy(ctx, "box:"+e.box, `
[retention]
default_class = "default"
[[retention.class]]
name = "default"
record = true
max_age = "90d"
grace = "7d"
[[retention.class]]
name = "mifid"
record = true
max_age = "2555d"
must_sync = true
grace = "30d"
[[retention.class]]
name = "desk"
record = true
max_age = "90d"
grace = "5d"
[[retention.rule]]
numbers = ["+4930555000*"]
class = "desk"
[sync]
window = "22:00-23:30"
rate = "2MB"
`, nil, "alice")
	if err != nil {
		t.Fatal(err)
	}
	b.checkIn(t)
	if b.cfg.Sync.Window != "22:00-23:30" || b.cfg.Sync.Rate != 2_000_000 {
		t.Fatalf("window %q rate %d", b.cfg.Sync.Window, b.cfg.Sync.Rate)
	}
	res, err = e.v.Sweep()
	if err != nil || res.Deleted != 3 {
		t.Fatalf("after the policy shortened the class's grace to 5 days, the sweep deleted %d of 3 (%v)", res.Deleted, err)
	}
	st, err := e.arch.Index.PolicyState(ctx, e.box)
	if err != nil || st.Version != v || st.Refused != "" {
		t.Fatalf("archive's record of the box's policy: %+v %v (want version %d)", st, err, v)
	}
	if got := e.boxAudit(t, "policy_applied"); len(got) != 1 || !strings.Contains(got[0], "alice") {
		t.Fatalf("box audit: %q", got)
	}
	// A group policy newer than the box's own does not replace it; a
	// newer one of its own does, and a repeated reply changes nothing.
	if err := e.arch.SetPolicyGroup(ctx, e.box, "branches"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.arch.SetPolicy(ctx, "group:branches", "[sync]\nwindow = \"03:00-04:00\"\n", nil, "bob"); err != nil {
		t.Fatal(err)
	}
	b.checkIn(t)
	b.checkIn(t)
	if b.cfg.Sync.Window != "22:00-23:30" || len(e.boxAudit(t, "policy_applied")) != 1 {
		t.Fatalf("window %q after a group policy; applied %d times", b.cfg.Sync.Window, len(e.boxAudit(t, "policy_applied")))
	}
}

// TestPolicyRefused (acceptance 2): a policy that is invalid for the box,
// one not signed by the archive's policy key (a row written into the
// index), and an older one replayed under a new number are refused by
// the box, which keeps what it applied, audits the refusal and reports
// it with the reason; the archive alerts.
func TestPolicyRefused(t *testing.T) {
	e := newEnv(t)
	b := e.policyBox(t)
	ctx := context.Background()
	first, err := e.arch.SetPolicy(ctx, "box:"+e.box, "[sync]\nwindow = \"02:00-03:00\"\n", nil, "alice")
	if err != nil {
		t.Fatal(err)
	}
	b.checkIn(t)
	firstDoc, _ := e.arch.Index.LatestPolicy(ctx, "box:"+e.box)
	second, err := e.arch.SetPolicy(ctx, "box:"+e.box, "[sync]\nwindow = \"02:30-03:30\"\n", nil, "alice")
	if err != nil {
		t.Fatal(err)
	}
	b.checkIn(t)
	if b.cfg.Sync.Window != "02:30-03:30" {
		t.Fatalf("window %q", b.cfg.Sync.Window)
	}
	refused := func(what, reason string) {
		t.Helper()
		b.checkIn(t)
		if b.cfg.Sync.Window != "02:30-03:30" {
			t.Fatalf("%s: the box applied it (window %q)", what, b.cfg.Sync.Window)
		}
		st, _ := e.arch.Index.PolicyState(ctx, e.box)
		if st.Version != second || !strings.Contains(st.Refused, reason) {
			t.Fatalf("%s: archive records %+v, want version %d and a refusal %q", what, st, second, reason)
		}
		if al := e.alerts(t, "policy_refused"); len(al) == 0 || !strings.Contains(al[len(al)-1], reason) {
			t.Fatalf("%s: archive alerts %q", what, al)
		}
		if au := e.boxAudit(t, "policy_refused"); len(au) == 0 || !strings.Contains(au[len(au)-1], reason) {
			t.Fatalf("%s: box audit %q", what, au)
		}
	}

	// Invalid: a setting no policy may change, then one the box's
	// validation refuses.
	if _, err := e.arch.SetPolicy(ctx, "box:"+e.box, "[vault]\ndir = \"/tmp/elsewhere\"\n", nil, "mallory"); err != nil {
		t.Fatal(err)
	}
	refused("a vault setting", "vault: not a setting a policy may change")
	if _, err := e.arch.SetPolicy(ctx, "box:"+e.box, "[sync]\nwindow = \"25:00-26:00\"\n", nil, "mallory"); err != nil {
		t.Fatal(err)
	}
	refused("a bad window", "sync.window")

	// Unsigned: a document written into the index, signed by another key.
	_, other, _ := ed25519.GenerateKey(nil)
	next, _ := e.arch.Index.NextPolicyVersion(ctx)
	forged, _ := wire.SignPolicy(other, wire.PolicyDoc{Target: "box:" + e.box, Version: next, Issued: e.clock.Now(), By: "mallory", Config: "[sync]\nwindow = \"00:00-24:00\"\n"})
	fj, _ := json.Marshal(forged)
	if err := e.arch.Index.AddPolicy(ctx, index.Policy{Target: "box:" + e.box, Version: next, Doc: string(fj), SetAt: e.clock.Now(), SetBy: "mallory"}); err != nil {
		t.Fatal(err)
	}
	refused("a forged policy", "not signed by the pinned policy key")

	// Older: the first policy, genuinely signed, replayed under a new
	// number.
	if err := e.arch.Index.AddPolicy(ctx, index.Policy{Target: "box:" + e.box, Version: next + 1, Doc: firstDoc.Doc, SetAt: e.clock.Now(), SetBy: "mallory"}); err != nil {
		t.Fatal(err)
	}
	refused("an older policy replayed", "older than version")
	_ = first

	// A valid new one is applied again afterwards.
	if _, err := e.arch.SetPolicy(ctx, "box:"+e.box, "[sync]\nwindow = \"04:00-05:00\"\n", nil, "alice"); err != nil {
		t.Fatal(err)
	}
	b.checkIn(t)
	if b.cfg.Sync.Window != "04:00-05:00" {
		t.Fatalf("window %q", b.cfg.Sync.Window)
	}
}

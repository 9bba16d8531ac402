package client_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/vault/retention"
)

// TestPolicyKeepsLegalRetention (finding M2): whoever can sign policies
// publishes a policy that shortens the box's legally retained "mifid"
// class to one hour (with legal_retention set, so it looks legal), then
// one that drops the class. The box refuses both, reports why, and its
// sweep deletes none of the unsynced MiFID calls. Even a retention in
// force with a one-hour max_age (put straight into the vault) does not
// delete them before the archive acknowledges them: they are reported
// overdue, and go once the archive has them.
func TestPolicyKeepsLegalRetention(t *testing.T) {
	e := newEnv(t)
	b := e.policyBox(t)
	ctx := context.Background()
	e.record(synth.Config{Calls: 3, Duration: time.Second, Start: e.clock.Now().Add(-time.Hour)})
	short := `
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
max_age = "1h"
must_sync = true
grace = "30d"
[[retention.rule]]
numbers = ["+4930555000*"]
class = "mifid"
`
	refused := func(what, reason string) {
		t.Helper()
		b.checkIn(t)
		st, _ := e.arch.Index.PolicyState(ctx, e.box)
		if !strings.Contains(st.Refused, reason) {
			t.Fatalf("%s: archive records %+v, want a refusal %q", what, st, reason)
		}
		cl, _ := b.cfg.Retention.Class("mifid")
		if !cl.MustSync || time.Duration(cl.MaxAge) != 7*365*day {
			t.Fatalf("%s: the box's mifid class is now %+v", what, cl)
		}
		e.clock.Add(2 * time.Hour)
		res, err := e.v.Sweep()
		if err != nil || res.Deleted != 0 {
			t.Fatalf("%s: the sweep deleted %d unsynced MiFID recordings (%v)", what, res.Deleted, err)
		}
	}
	if _, err := e.arch.SetPolicy(ctx, "box:"+e.box, short, []string{"mifid"}, "mallory"); err != nil {
		t.Fatal(err)
	}
	refused("max_age 1h with legal retention", `class "mifid" is held as legal retention on this box: max_age`)
	if _, err := e.arch.SetPolicy(ctx, "box:"+e.box, strings.Replace(short, "must_sync = true\n", "", 1), nil, "mallory"); err != nil {
		t.Fatal(err)
	}
	refused("must_sync removed", "must_sync may not be removed")
	dropped := "[retention]\ndefault_class = \"default\"\n[[retention.class]]\nname = \"default\"\nrecord = true\nmax_age = \"1h\"\n"
	if _, err := e.arch.SetPolicy(ctx, "box:"+e.box, dropped, nil, "mallory"); err != nil {
		t.Fatal(err)
	}
	refused("class dropped", `class "mifid" is held as legal retention (must_sync) on this box and may not be dropped`)

	// The retention itself: a one-hour MiFID class in force.
	p := *e.policy
	p.Classes = append([]retention.Class(nil), p.Classes...)
	p.Classes[1].MaxAge = retention.Duration(time.Hour)
	if _, err := e.v.SetPolicy(&p); err != nil {
		t.Fatal(err)
	}
	res, err := e.v.Sweep()
	if err != nil || res.Deleted != 0 || res.Overdue != 3 {
		t.Fatalf("a one-hour must_sync class: the sweep deleted %d, overdue %d (want 0 and 3; %v)", res.Deleted, res.Overdue, err)
	}
	if err := e.pass(b.c); err != nil {
		t.Fatal(err)
	}
	if res, err = e.v.Sweep(); err != nil || res.Deleted != 3 {
		t.Fatalf("once the archive has them, the sweep deleted %d of 3 (%v)", res.Deleted, err)
	}
}

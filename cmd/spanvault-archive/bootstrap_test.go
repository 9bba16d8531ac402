package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/access"
)

func (e *cliEnv) admins() (n int) {
	e.db(func(a *archive.Archive) {
		if err := a.Index.DB().QueryRowContext(context.Background(), `SELECT COUNT(*) FROM users WHERE role = 'admin'`).Scan(&n); err != nil {
			e.t.Fatal(err)
		}
	})
	return n
}

// TestBootstrapAfterDemotion: an admin files the change of their own
// role (the web's role request), the other admin approves it; the
// archive, full of accounts and recordings, has one admin left, and the
// bootstrap must not hand a new admin account to whoever is at the
// shell, without anyone's credentials. The filing is refused now (one's
// own role; too few admins left), so the demotion is written the way an
// older archive or a change made before these rules left it.
func TestBootstrapAfterDemotion(t *testing.T) {
	e := newCLIEnv(t, cliStaff)
	ctx := context.Background()
	e.db(func(a *archive.Archive) {
		svc := access.New(a, nil)
		for _, who := range []string{"otto", "olga"} {
			o := e.ops[who]
			u, err := svc.AuthenticateOperator(ctx, who, o.password, o.code(t, 0), access.ActUsers)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := svc.FileRequest(ctx, u, access.RequestInput{Kind: access.ReqRole, User: "otto", Role: "dpo", Reason: "moves to data protection"}); err == nil {
				t.Fatalf("%s files otto's demotion, which leaves one admin", who)
			}
		}
		if _, err := a.Index.DB().ExecContext(ctx, `UPDATE users SET role = 'dpo' WHERE name = 'otto'`); err != nil {
			t.Fatal(err)
		}
	})
	if n := e.admins(); n != 1 {
		t.Fatalf("admins after the demotion: %d", n)
	}
	o, se, c := run(t, "user", "add", "-dir", e.dir, "-name", "otto2", "-role", "admin")
	if c == 0 {
		t.Fatalf("bootstrap on a live archive (accounts, recordings) after an admin's demotion, without credentials: %d %q %s", c, o, se)
	}
}

// TestBootstrapRace: two bootstraps at once on an archive with one
// admin both count one admin, and both add theirs: three admins without
// anyone's credentials (the argon2 hash between the count and the insert
// is the window; 6 of 6 runs here).
func TestBootstrapRace(t *testing.T) {
	e := newCLIEnv(t, nil)
	if _, se, c := run(t, "user", "add", "-dir", e.dir, "-name", "root", "-role", "admin"); c != 0 {
		t.Fatalf("first bootstrap: %s", se)
	}
	var wg sync.WaitGroup
	outs := make([]string, 2)
	for i, name := range []string{"mallory", "mallory2"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var se string
			outs[i], se, _ = run(t, "user", "add", "-dir", e.dir, "-name", name, "-role", "admin")
			outs[i] += se
		}()
	}
	wg.Wait()
	if n := e.admins(); n > access.BootstrapAdmins {
		t.Fatalf("%d admins after two concurrent bootstraps (limit %d): %q", n, access.BootstrapAdmins, outs)
	}
}

// TestEnrollTrailNamesPerson: an enrollment at the command line by
// an authenticated admin still writes an "enroll" entry whose actor is
// "admin", a name no person holds (or one a user may be called).
func TestEnrollTrailNamesPerson(t *testing.T) {
	e := newCLIEnv(t, cliStaff)
	before := len(e.events())
	if o, se, c := e.as("otto", "enroll", "-name", "branch-3", "-o", filepath.Join(t.TempDir(), "box")); c != 0 {
		t.Fatalf("otto enrols: %d %s %s", c, o, se)
	}
	for _, ev := range e.events()[before:] {
		if ev.Actor == "admin" {
			t.Fatalf("the trail names %q for otto's enrollment: %+v", ev.Actor, ev)
		}
	}
}

// TestCLIRulesHold: what was attacked and held (passes on main).
func TestCLIRulesHold(t *testing.T) {
	e := newCLIEnv(t, cliStaff)
	// A DPO of branch-2 files the erasure of a branch-1 recording.
	if _, se, c := e.as("dora", "erase", "-appliance", "branch-1", "-id", "06rec1", "-reason", "x"); c == 0 {
		t.Fatalf("dora erases branch-1: %s", se)
	}
	// A supervisor, an admin, the filer: none decides a DPO's erasure.
	o, _, _ := e.as("dana", "erase", "-appliance", "branch-1", "-id", "06rec2", "-reason", "art 17")
	id := filed(t, o)
	for _, who := range []string{"sue", "otto", "carl", "dana", "dora"} {
		if _, se, c := e.as(who, "request", "approve", "-id", id); c == 0 {
			t.Fatalf("%s approves dana's erasure: %s", who, se)
		}
	}
	if o, _, _ := e.as("dora", "request", "list"); strings.Contains(o, "06rec2") {
		t.Fatalf("a DPO of branch-2 lists a branch-1 erasure: %q", o)
	}
	// A credentials file (0600) works once: its code is used.
	e.db(func(a *archive.Archive) {
		a.Index.DB().ExecContext(context.Background(), `UPDATE users SET totp_step = 0`)
	})
	f := filepath.Join(t.TempDir(), "otto.cred")
	os.WriteFile(f, []byte(e.ops["otto"].password+"\n"+e.ops["otto"].code(t, 0)+"\n"), 0o600)
	if _, se, c := run(t, "pull", "-dir", e.dir, "-appliance", "branch-1", "-all", "-by", "otto", "-credentials-file", f); c != 0 {
		t.Fatalf("first use: %s", se)
	}
	if _, se, c := run(t, "pull", "-dir", e.dir, "-appliance", "branch-1", "-all", "-by", "otto", "-credentials-file", f); c == 0 {
		t.Fatalf("a credentials file reused: %s", se)
	}
	// Another person's credentials file under one's own name.
	if _, se, c := run(t, "pull", "-dir", e.dir, "-appliance", "branch-1", "-all", "-by", "olga", "-credentials-file", f); c == 0 {
		t.Fatalf("otto's file as olga: %s", se)
	}
	// An export's -o: a symlink planted there is not written through.
	o, _, _ = e.as("carl", "get", "-appliance", "branch-1", "-id", "06rec3", "-reason", "dispute")
	xid := filed(t, o)
	e.as("dana", "request", "approve", "-id", xid)
	victim := filepath.Join(t.TempDir(), "victim")
	link := filepath.Join(t.TempDir(), "out.age")
	os.Symlink(victim, link)
	if _, se, c := e.as("carl", "get", "-request", xid, "-o", link); c == 0 {
		t.Fatalf("get through a symlink: %s", se)
	}
	if _, err := os.Stat(victim); err == nil {
		t.Fatal("written through the symlink")
	}
	// Another compliance/DPO person writes carl's approved export.
	if _, se, c := e.as("erik", "get", "-request", xid, "-o", filepath.Join(t.TempDir(), "e.age")); c == 0 {
		t.Fatalf("erik writes carl's export: %s", se)
	}
	if _, se, c := e.as("carl", "get", "-request", xid, "-o", filepath.Join(t.TempDir(), "c.age")); c != 0 {
		t.Fatalf("carl after the refusals: %s", se)
	}
	// enroll and revoke without -by: refused on an archive whose every
	// account is disabled.
	d := newCLIEnv(t, map[string]cliUser{"x": {role: access.DPO}})
	d.db(func(a *archive.Archive) { access.DisableUser(context.Background(), a.Index.DB(), a.Now(), "x", "left") })
	if _, se, c := run(t, "revoke", "-dir", d.dir, "-name", "branch-1", "-reason", "x"); c == 0 {
		t.Fatalf("revoke without -by, every account disabled: %s", se)
	}
	// The trail never holds a setup link's token.
	fresh := newCLIEnv(t, nil)
	o, _, _ = run(t, "user", "add", "-dir", fresh.dir, "-name", "root", "-role", "admin")
	tok := o[strings.Index(o, "/setup/")+7 : len(o)-1]
	for _, ev := range fresh.events() {
		if strings.Contains(ev.Detail, tok) {
			t.Fatalf("token in the trail: %+v", ev)
		}
	}
}

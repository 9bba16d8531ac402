package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/archive/index"
)

// cliPublicURL is the access service's address in the tests' archives:
// setup links are built on it.
const cliPublicURL = "https://archive.example.test"

// cliUser is an account of the fixture: a role and branches (nil: all).
type cliUser struct {
	role     access.Role
	branches []string
}

// cliEnv is an archive with two enrolled boxes, sealed recordings in the
// store (branch-1: 06rec1..06rec4, branch-2: 06rec9), access.public_url
// set, and accounts with their own passwords and second factors.
type cliEnv struct {
	t   *testing.T
	dir string
	ops map[string]operator
	obj map[string][]byte // a recording's stored bytes
}

func newCLIEnv(t *testing.T, users map[string]cliUser) *cliEnv {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "archive")
	if _, se, c := run(t, "init", "-dir", dir, "-listen", "127.0.0.1:0"); c != 0 {
		t.Fatalf("init: %s", se)
	}
	e := &cliEnv{t: t, dir: dir, ops: map[string]operator{}, obj: map[string][]byte{}}
	e.configure()
	e.db(func(a *archive.Archive) { e.boxes(a) })
	e.staff(users)
	return e
}

// cliEnvAt is the accounts of an archive a test made (configured like
// newCLIEnv's).
func cliEnvAt(t *testing.T, dir string, users map[string]cliUser) *cliEnv {
	t.Helper()
	e := &cliEnv{t: t, dir: dir, ops: map[string]operator{}, obj: map[string][]byte{}}
	e.configure()
	e.staff(users)
	return e
}

// configure sets access.public_url and working hours around the clock
// (the tests run on any day).
func (e *cliEnv) configure() {
	t := e.t
	cfgPath := filepath.Join(e.dir, "archive.toml")
	cfg, _ := os.ReadFile(cfgPath)
	r := strings.NewReplacer(`public_url = ""`, `public_url = "`+cliPublicURL+`"`, `working_hours = "07:00-20:00"`, `working_hours = "00:00-24:00"`, `working_days = "Mon-Sat"`, `working_days = "Mon-Sun"`)
	if err := os.WriteFile(cfgPath, []byte(r.Replace(string(cfg))), 0o600); err != nil {
		t.Fatal(err)
	}
}

// boxes enrols branch-1 and branch-2 and stores their recordings.
func (e *cliEnv) boxes(a *archive.Archive) {
	t := e.t
	ctx := context.Background()
	t0 := a.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	var rs []index.Record
	for box, ids := range map[string][]string{"branch-1": {"06rec1", "06rec2", "06rec3", "06rec4"}, "branch-2": {"06rec9"}} {
		if _, err := a.Enroll(ctx, box, filepath.Join(t.TempDir(), box), nil); err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			b := []byte("age-encryption.org/v1 sealed bytes of " + box + "/" + id)
			s := sha256.Sum256(b)
			sum := hex.EncodeToString(s[:])
			if _, _, err := a.Store.Append(ctx, sum, 0, int64(len(b)), bytes.NewReader(b)); err != nil {
				t.Fatal(err)
			}
			e.obj[box+"/"+id] = b
			rs = append(rs, index.Record{Appliance: box, ID: id, Kind: "recording", Start: t0, Class: "default", RetainUntil: t0.AddDate(0, 0, 30),
				Recorded: true, Size: int64(len(b)), SHA256: sum, Entry: "{}", ReceivedAt: t0})
		}
	}
	if err := a.Index.PutRecords(ctx, rs); err != nil {
		t.Fatal(err)
	}
}

// staff adds the accounts, each with their own password.
func (e *cliEnv) staff(users map[string]cliUser) {
	e.db(func(a *archive.Archive) { e.addStaff(a, users) })
}

func (e *cliEnv) addStaff(a *archive.Archive, users map[string]cliUser) {
	t := e.t
	ctx := context.Background()
	svc := access.New(a, nil)
	for n, u := range users {
		nu, err := access.AddUser(ctx, a.Index.DB(), a.Now(), n, u.role, u.branches)
		if err != nil {
			t.Fatal(err)
		}
		k, _ := otp.NewKeyFromURL(nu.TOTPURL)
		o := operator{name: n, password: "the own password of " + n, secret: k.Secret()}
		if err := svc.SetPassword(ctx, n, o.password); err != nil {
			t.Fatal(err)
		}
		e.ops[n] = o
	}
}

// as runs a command as who, with their password and a current code on
// stdin. A code is good once: the account's last used step is forgotten
// first, so that one person may run several commands within 30 seconds.
func (e *cliEnv) as(who string, args ...string) (string, string, int) {
	e.t.Helper()
	e.db(func(a *archive.Archive) {
		if _, err := a.Index.DB().ExecContext(context.Background(), `UPDATE users SET totp_step = 0 WHERE name = ?`, who); err != nil {
			e.t.Fatal(err)
		}
	})
	o := e.ops[who]
	return e.with(o.password+"\n"+o.code(e.t, 0)+"\n", append(args, "-dir", e.dir, "-by", who)...)
}

// with runs a command with creds on stdin.
func (e *cliEnv) with(creds string, args ...string) (string, string, int) {
	e.t.Helper()
	stdin = strings.NewReader(creds)
	defer func() { stdin = os.Stdin }()
	return run(e.t, args...)
}

func (e *cliEnv) db(f func(a *archive.Archive)) {
	e.t.Helper()
	a, err := archive.Open(e.dir)
	if err != nil {
		e.t.Fatal(err)
	}
	defer a.Close()
	f(a)
}

// commands lists the box commands queued.
func (e *cliEnv) commands() []index.Command {
	e.t.Helper()
	var cs []index.Command
	e.db(func(a *archive.Archive) {
		var err error
		if cs, err = a.Index.Commands(context.Background(), "", false); err != nil {
			e.t.Fatal(err)
		}
	})
	return cs
}

// events lists the archive's trail.
func (e *cliEnv) events() []index.Event {
	e.t.Helper()
	var es []index.Event
	e.db(func(a *archive.Archive) {
		var err error
		if es, err = a.Index.Events(context.Background(), "", false); err != nil {
			e.t.Fatal(err)
		}
	})
	return es
}

// trailHas reports whether an event of kind by actor mentions detail.
func (e *cliEnv) trailHas(kind, actor, detail string) bool {
	for _, ev := range e.events() {
		if ev.Kind == kind && ev.Actor == actor && strings.Contains(ev.Detail, detail) {
			return true
		}
	}
	return false
}

var cliStaff = map[string]cliUser{
	"dana": {role: access.DPO},
	"erik": {role: access.DPO},
	"dora": {role: access.DPO, branches: []string{"branch-2"}},
	"otto": {role: access.Admin},
	"olga": {role: access.Admin},
	"carl": {role: access.Compliance, branches: []string{"branch-1"}},
	"sue":  {role: access.Supervisor, branches: []string{"branch-1"}},
	"gone": {role: access.DPO},
	"mal":  {role: access.DPO}, // tries wrong passwords until locked
}

// TestCLINamesNobodyOnTrust: every command that changes or reads
// personal data or retention, or that the trail attributes to a person,
// checks the person -by names (password and a current code, like the
// web sign-in) and their role and branches as the web workspace does;
// without them nothing is done. (Old code: -by was a name taken on
// trust, and erase, hold, pull, policy set, reseal, update publish and
// get ran as "cli" or "admin" without one.)
func TestCLINamesNobodyOnTrust(t *testing.T) {
	e := newCLIEnv(t, cliStaff)
	before := len(e.events())
	pol := filepath.Join(t.TempDir(), "policy.toml")
	os.WriteFile(pol, []byte("[sync]\nwindow = \"00:00-24:00\"\n"), 0o600)
	out := filepath.Join(t.TempDir(), "rec.age")
	upd := filepath.Join(t.TempDir(), "update")
	attempts := [][]string{
		{"erase", "-appliance", "branch-1", "-id", "06rec1", "-reason", "art. 17"},
		{"hold", "-appliance", "branch-1", "-id", "06rec1", "-reason", "litigation"},
		{"release", "-appliance", "branch-1", "-id", "06rec1", "-reason", "over"},
		{"pull", "-appliance", "branch-1", "-all"},
		{"policy", "set", "-target", "box:branch-1", "-f", pol},
		{"policy", "group", "-box", "branch-1", "-group", "north"},
		{"reseal"},
		{"update", "publish", "-update", upd},
		{"get", "-appliance", "branch-1", "-id", "06rec1", "-o", out},
		{"evidence", "-appliance", "branch-1", "-id", "06rec1", "-o", out},
	}
	for _, args := range attempts {
		// No name, then a name without credentials, then a wrong password.
		for _, creds := range []string{"", "\n\n", "not her password\n000000\n"} {
			for _, by := range [][]string{nil, {"-by", "mal"}} {
				full := append(append(append([]string{}, args...), "-dir", e.dir), by...)
				if len(args) > 1 && (args[0] == "policy" || args[0] == "update") {
					full = append([]string{args[0], args[1], "-dir", e.dir}, append(append([]string{}, args[2:]...), by...)...)
				}
				if o, se, c := e.with(creds, full...); c == 0 {
					t.Errorf("%s %v with credentials %q: ran: %s %s", strings.Join(args, " "), by, creds, o, se)
				}
			}
		}
	}
	if cs := e.commands(); len(cs) != 0 {
		t.Fatalf("commands queued without an authenticated person: %+v", cs)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("get or evidence wrote a recording without an authenticated person")
	}
	e.db(func(a *archive.Archive) {
		if p, err := a.Index.LatestPolicy(context.Background(), "box:branch-1"); err == nil && p != nil {
			t.Fatalf("a policy was set without an authenticated person: %+v", p)
		}
	})
	for _, ev := range e.events()[before:] {
		if ev.Actor == "cli" || ev.Actor == "admin" || strings.HasPrefix(ev.Actor, "cli:") {
			t.Fatalf("the trail names %q: %+v", ev.Actor, ev)
		}
	}
	if !e.trailHas("signin_failed", "mal", "") {
		t.Error("the wrong passwords are not in the trail")
	}

	// A disabled account, a role the web refuses the action, a branch
	// outside the person's scope: refused, audited, nothing done.
	e.db(func(a *archive.Archive) {
		if err := access.DisableUser(context.Background(), a.Index.DB(), a.Now(), "gone", "left"); err != nil {
			t.Fatal(err)
		}
	})
	if _, se, c := e.as("gone", "hold", "-appliance", "branch-1", "-id", "06rec1", "-reason", "x"); c == 0 || !strings.Contains(se, "wrong name, password or code") {
		t.Errorf("a disabled DPO holds: %d %s", c, se)
	}
	if _, se, c := e.as("sue", "hold", "-appliance", "branch-1", "-id", "06rec1", "-reason", "x"); c == 0 || !strings.Contains(se, "may not") {
		t.Errorf("a supervisor holds: %d %s", c, se)
	}
	if !e.trailHas("refused", "sue", "may not hold") {
		t.Error("the supervisor's refusal is not in the trail")
	}
	if _, se, c := e.as("dora", "hold", "-appliance", "branch-1", "-id", "06rec1", "-reason", "x"); c == 0 || !strings.Contains(se, "no such recording") {
		t.Errorf("a DPO of branch-2 holds a recording of branch-1: %d %s", c, se)
	}
	if !e.trailHas("denied", "dora", "branch-1") {
		t.Error("the out-of-scope refusal is not in the trail")
	}
	if _, se, c := e.as("carl", "pull", "-appliance", "branch-1", "-all"); c == 0 || !strings.Contains(se, "may not") {
		t.Errorf("compliance pulls: %d %s", c, se)
	}
	if _, se, c := e.as("dana", "policy", "set", "-target", "box:branch-1", "-f", pol); c == 0 || !strings.Contains(se, "may not") {
		t.Errorf("a DPO sets a policy: %d %s", c, se)
	}
	if cs := e.commands(); len(cs) != 0 {
		t.Fatalf("commands queued on a refusal: %+v", cs)
	}

	// The right person: done, in their name.
	if o, se, c := e.as("dana", "hold", "-appliance", "branch-1", "-id", "06rec1", "-reason", "litigation"); c != 0 || !strings.Contains(o, "queued") {
		t.Fatalf("dana holds: %d %s %s", c, o, se)
	}
	if o, se, c := e.as("otto", "pull", "-appliance", "branch-1", "-all"); c != 0 || !strings.Contains(o, "queued") {
		t.Fatalf("otto pulls: %d %s %s", c, o, se)
	}
	if o, se, c := e.as("otto", "policy", "set", "-target", "box:branch-1", "-f", pol); c != 0 || !strings.Contains(o, "policy version") {
		t.Fatalf("otto sets a policy: %d %s %s", c, o, se)
	}
	by := map[string]string{}
	for _, c := range e.commands() {
		by[c.Kind] = c.By
	}
	if by["hold"] != "dana" || by["pull"] != "otto" {
		t.Fatalf("commands by %v", by)
	}
	if o, _, _ := run(t, "commands", "-dir", e.dir); !strings.Contains(o, `"kind":"pull","all":true`) {
		t.Fatalf("commands: %s", o)
	}
	if o, _, _ := run(t, "policy", "show", "-dir", e.dir, "-target", "box:branch-1"); !strings.Contains(o, "by otto") {
		t.Fatalf("policy show: %s", o)
	}
}

// filed is the request number a command's output names ("request N filed").
func filed(t *testing.T, out string) string {
	t.Helper()
	m := regexp.MustCompile(`request (\d+) filed`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no request filed: %q", out)
	}
	return m[1]
}

// TestCLIFourEyes: what the web workspace does under four eyes, the
// command line never does with less. erase and release file the same
// request the web files, which a second, different person approves
// (request approve, or the workspace); get and evidence file an export
// that a second person approves and the requester then writes once.
// (Old code: erase -by dana queued the erasure at once, and get wrote
// the recording for anyone at the shell.)
func TestCLIFourEyes(t *testing.T) {
	e := newCLIEnv(t, cliStaff)
	o, se, c := e.as("dana", "erase", "-appliance", "branch-1", "-id", "06rec2", "-reason", "art. 17 request of the caller")
	if c != 0 {
		t.Fatalf("dana files an erasure: %d %s %s", c, o, se)
	}
	for _, cmd := range e.commands() {
		if cmd.Kind == "erase" {
			t.Fatalf("one DPO alone queued an erasure: %+v", cmd)
		}
	}
	id := filed(t, o)
	if _, se, c := e.as("dana", "request", "approve", "-id", id); c == 0 || !strings.Contains(se, "four eyes") {
		t.Fatalf("dana approves her own erasure: %d %s", c, se)
	}
	if o, se, c := e.as("erik", "request", "list"); c != 0 || !strings.Contains(o, id+"\tfiled\terase\tbranch-1/06rec2\tby dana") {
		t.Fatalf("erik's requests: %d %q %s", c, o, se)
	}
	if o, _, _ := e.as("sue", "request", "list"); strings.Contains(o, "06rec2") {
		t.Fatalf("a supervisor sees the erasure request: %q", o)
	}
	if _, se, c := e.as("otto", "request", "approve", "-id", id); c == 0 || !strings.Contains(se, "no such request") {
		t.Fatalf("an admin approves an erasure: %d %s", c, se)
	}
	if _, se, c := e.with("", "request", "approve", "-dir", e.dir, "-id", id, "-by", "erik"); c == 0 || !strings.Contains(se, "credentials") {
		t.Fatalf("erik approves without credentials: %d %s", c, se)
	}
	if o, se, c := e.as("erik", "request", "approve", "-id", id); c != 0 || !strings.Contains(o, "approved") {
		t.Fatalf("erik approves: %d %s %s", c, o, se)
	}
	var erased []index.Command
	for _, cmd := range e.commands() {
		if cmd.Kind == "erase" {
			erased = append(erased, cmd)
		}
	}
	if len(erased) != 1 || erased[0].Recording != "06rec2" || erased[0].By != "dana+erik" {
		t.Fatalf("erasure after approval: %+v", erased)
	}

	// An export: compliance files, a DPO approves, the requester writes
	// the sealed recording once.
	out := filepath.Join(t.TempDir(), "rec.age")
	if _, se, c := e.as("carl", "get", "-appliance", "branch-1", "-id", "06rec3", "-o", out); c == 0 || !strings.Contains(se, "reason") {
		t.Fatalf("get without a reason or a request: %d %s", c, se)
	}
	o, se, c = e.as("carl", "get", "-appliance", "branch-1", "-id", "06rec3", "-reason", "dispute 4711")
	if c != 0 {
		t.Fatalf("carl files an export: %d %s %s", c, o, se)
	}
	xid := filed(t, o)
	if _, se, c := e.as("carl", "get", "-request", xid, "-o", out); c == 0 || !strings.Contains(se, "second person") {
		t.Fatalf("get before approval: %d %s", c, se)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("get wrote the recording before approval")
	}
	if _, se, c := e.as("sue", "get", "-appliance", "branch-1", "-id", "06rec3", "-reason", "curious"); c == 0 || !strings.Contains(se, "may not") {
		t.Fatalf("a supervisor files an export: %d %s", c, se)
	}
	if o, se, c := e.as("dana", "request", "approve", "-id", xid); c != 0 || !strings.Contains(o, "approved") {
		t.Fatalf("dana approves the export: %d %s %s", c, o, se)
	}
	if _, se, c := e.as("dana", "get", "-request", xid, "-o", out); c == 0 {
		t.Fatalf("the approver writes the export: %d %s", c, se)
	}
	if o, se, c := e.as("carl", "get", "-request", xid, "-o", out); c != 0 {
		t.Fatalf("carl writes the approved export: %d %s %s", c, o, se)
	}
	if b, err := os.ReadFile(out); err != nil || !bytes.Equal(b, e.obj["branch-1/06rec3"]) {
		t.Fatalf("the written recording: %v %q", err, b)
	}
	if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode().Perm())
	}
	again := filepath.Join(t.TempDir(), "again.age")
	if _, se, c := e.as("carl", "get", "-request", xid, "-o", again); c == 0 || !strings.Contains(se, "downloaded already") {
		t.Fatalf("a second get of one export: %d %s", c, se)
	}
	if _, err := os.Stat(again); err == nil {
		t.Fatal("a refused get left a file")
	}
	if !e.trailHas("export", "carl", "06rec3") {
		t.Fatal("the export is not in the trail under carl's name")
	}
	// Evidence is an export too.
	o, se, c = e.as("carl", "evidence", "-appliance", "branch-1", "-id", "06rec4", "-reason", "court")
	if c != 0 {
		t.Fatalf("carl files an evidence export: %d %s %s", c, o, se)
	}
	if _, se, c := e.as("carl", "evidence", "-request", filed(t, o), "-o", filepath.Join(t.TempDir(), "b.svev")); c == 0 || !strings.Contains(se, "second person") {
		t.Fatalf("evidence before approval: %d %s", c, se)
	}
}

// TestCLIUserSetupLinks: user add and user reset at the shell are the
// web's account requests: filed by one admin, approved by another, who
// receives a single-use setup link; nobody is shown a password or a
// second factor. The first two admins of a new archive (the two people
// every later addition takes) are added without anyone's credentials,
// alerted in the trail; then never again.
// (Old code: user add and user reset printed the password and the
// second factor's secret to whoever ran them.)
func TestCLIUserSetupLinks(t *testing.T) {
	fresh := newCLIEnv(t, nil)
	o, se, c := run(t, "user", "add", "-dir", fresh.dir, "-name", "root", "-role", "admin")
	if c != 0 || strings.Contains(o, "password:") || strings.Contains(o, "otpauth") || !strings.Contains(o, cliPublicURL+"/setup/") {
		t.Fatalf("bootstrap of the first admin: %d %q %s", c, o, se)
	}
	if _, se, c := run(t, "user", "add", "-dir", fresh.dir, "-name", "sec", "-role", "auditor"); c == 0 || !strings.Contains(se, "-by") {
		t.Fatalf("an auditor at the bootstrap: %d %s", c, se)
	}
	if o, se, c := run(t, "user", "add", "-dir", fresh.dir, "-name", "root2", "-role", "admin"); c != 0 || !strings.Contains(o, cliPublicURL+"/setup/") {
		t.Fatalf("the second admin at the bootstrap (the four eyes every later account takes): %d %q %s", c, o, se)
	}
	if o, se, c := run(t, "user", "add", "-dir", fresh.dir, "-name", "mallory", "-role", "admin"); c == 0 || strings.Contains(o, "/setup/") {
		t.Fatalf("a third admin without credentials: %d %q %s", c, o, se)
	}
	if !fresh.trailHas("user_added", access.BootstrapActor, "root2") {
		t.Fatal("the bootstrap is not in the trail")
	}

	e := newCLIEnv(t, cliStaff)
	if o, se, c := run(t, "user", "add", "-dir", e.dir, "-name", "nina", "-role", "auditor"); c == 0 || strings.Contains(o, "password:") {
		t.Fatalf("user add without an admin's credentials: %d %q %s", c, o, se)
	}
	o, se, c = e.as("otto", "user", "add", "-name", "nina", "-role", "auditor", "-reason", "new auditor")
	if c != 0 || strings.Contains(o, "password:") || strings.Contains(o, "otpauth") {
		t.Fatalf("otto files nina: %d %q %s", c, o, se)
	}
	id := filed(t, o)
	if _, se, c := e.as("otto", "request", "approve", "-id", id); c == 0 || !strings.Contains(se, "four eyes") {
		t.Fatalf("otto approves his own request: %d %s", c, se)
	}
	o, se, c = e.as("olga", "request", "approve", "-id", id)
	if c != 0 || strings.Contains(o, "password:") || strings.Contains(o, "otpauth") || !strings.Contains(o, cliPublicURL+"/setup/") {
		t.Fatalf("olga approves nina: %d %q %s", c, o, se)
	}
	if o, _, _ := run(t, "user", "list", "-dir", e.dir); !strings.Contains(o, "nina\tauditor") {
		t.Fatalf("user list: %q", o)
	}
	o, se, c = e.as("otto", "user", "reset", "-name", "nina", "-reason", "lost her phone")
	if c != 0 || strings.Contains(o, "password:") || strings.Contains(o, "otpauth") {
		t.Fatalf("otto files a reset: %d %q %s", c, o, se)
	}
	o, se, c = e.as("olga", "request", "approve", "-id", filed(t, o))
	if c != 0 || strings.Contains(o, "otpauth") || !strings.Contains(o, cliPublicURL+"/setup/") {
		t.Fatalf("olga approves the reset: %d %q %s", c, o, se)
	}
	if _, se, c := run(t, "user", "disable", "-dir", e.dir, "-name", "nina", "-reason", "left"); c == 0 {
		t.Fatalf("user disable without an admin's credentials: %s", se)
	}
	if _, se, c := e.as("dana", "user", "disable", "-name", "nina", "-reason", "left"); c == 0 || !strings.Contains(se, "may not") {
		t.Fatalf("a DPO disables a user: %d %s", c, se)
	}
	if _, se, c := e.as("otto", "user", "disable", "-name", "nina", "-reason", "left"); c != 0 {
		t.Fatalf("otto disables nina: %s", se)
	}
	if !e.trailHas("user_disabled", "otto", "nina") {
		t.Fatal("the trail does not name otto")
	}
}

// TestCLIEnrollRevoke: enroll and revoke name an authenticated admin of
// every branch once the archive has accounts; a replacement, which the
// workspace gives only to two admins, is refused at enroll and pointed to
// approve -replace (two runs, two admins). An archive without any
// account enrols its first boxes without one (the bootstrap), never a
// replacement. (Old code: enroll, enroll -replace and revoke ran for
// anyone at the shell, in the trail as "admin".)
func TestCLIEnrollRevoke(t *testing.T) {
	e := newCLIEnv(t, cliStaff)
	out := func() string { return filepath.Join(t.TempDir(), "box") }
	appliance := func(name string) bool {
		var err error
		e.db(func(a *archive.Archive) { _, err = a.Index.Appliance(context.Background(), name) })
		return err == nil
	}
	if o, se, c := run(t, "enroll", "-dir", e.dir, "-name", "branch-3", "-o", out()); c == 0 || appliance("branch-3") {
		t.Fatalf("enroll without -by on an archive with accounts: %d %s %s", c, o, se)
	}
	if _, se, c := e.as("carl", "enroll", "-name", "branch-3", "-o", out()); c == 0 || !strings.Contains(se, "may not") {
		t.Fatalf("compliance enrols: %d %s", c, se)
	}
	if o, se, c := e.as("otto", "enroll", "-name", "branch-3", "-o", out()); c != 0 || !appliance("branch-3") {
		t.Fatalf("otto enrols: %d %s %s", c, o, se)
	}
	if !e.trailHas("enroll_command", "otto", "") {
		t.Fatal("the enrollment is not in the trail under otto's name")
	}
	before := len(e.events())
	if _, se, c := e.as("otto", "enroll", "-name", "branch-1", "-o", out(), "-replace", "-reason", "stolen"); c == 0 || !strings.Contains(se, "approve -replace") {
		t.Fatalf("one admin replaces a box: %d %s", c, se)
	}
	for _, ev := range e.events()[before:] {
		if ev.Kind == "replace" || ev.Kind == "audit_key_reset" {
			t.Fatalf("a refused replacement: %+v", ev)
		}
	}
	if o, se, c := run(t, "revoke", "-dir", e.dir, "-name", "branch-2", "-reason", "stolen"); c == 0 {
		t.Fatalf("revoke without -by: %s %s", o, se)
	}
	if o, se, c := e.as("otto", "revoke", "-name", "branch-2", "-reason", "stolen"); c != 0 || !strings.Contains(o, "revoked branch-2") {
		t.Fatalf("otto revokes: %d %s %s", c, o, se)
	}
	if !e.trailHas("revoke", "otto", "stolen") {
		t.Fatal("the revocation is not in the trail under otto's name")
	}

	// Under [enroll] four_eyes, one admin enrols nothing here.
	cfg := filepath.Join(e.dir, "archive.toml")
	b, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, []byte(strings.Replace(string(b), "four_eyes = false", "four_eyes = true", 1)), 0o600)
	if _, se, c := e.as("otto", "enroll", "-name", "branch-4", "-o", out()); c == 0 || !strings.Contains(se, "two admins") || appliance("branch-4") {
		t.Fatalf("one admin enrols under four eyes: %d %s", c, se)
	}

	fresh := newCLIEnv(t, nil)
	if o, se, c := run(t, "enroll", "-dir", fresh.dir, "-name", "branch-3", "-o", out()); c != 0 {
		t.Fatalf("the first boxes of an archive without accounts: %d %s %s", c, o, se)
	}
	if _, se, c := run(t, "enroll", "-dir", fresh.dir, "-name", "branch-3", "-o", out(), "-replace", "-reason", "x"); c == 0 || !strings.Contains(se, "approve -replace") {
		t.Fatalf("a replacement without anyone: %d %s", c, se)
	}
}

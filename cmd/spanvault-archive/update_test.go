package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/access"
)

// TestUpdateCommandLine: sign, publish (once), roll under four-eyes
// (filed, then started by another admin), status, stop, all audited;
// roll, approve and stop check -by's password and second factor (a
// name alone, the old free text, rolls and approves nothing).
// Before: no update command ("unknown command").
func TestUpdateCommandLine(t *testing.T) {
	dir, _, ops := approveArchive(t, map[string]access.Role{"alice": access.Admin, "bob": access.Admin, "carol": access.Admin, "aud": access.Auditor})
	// Four eyes on enrollment off: a rollout to more than one box is
	// filed all the same.
	cfg := filepath.Join(dir, "archive.toml")
	b, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, []byte(strings.Replace(string(b), "four_eyes = true", "four_eyes = false", 1)), 0o600)
	as := func(who string, skew time.Duration, args ...string) (string, string, int) {
		t.Helper()
		o := ops[who]
		stdin = strings.NewReader(o.password + "\n" + o.code(t, skew) + "\n")
		defer func() { stdin = os.Stdin }()
		return run(t, append(append([]string{"update"}, args...), "-by", who)...)
	}
	a, err := archive.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"branch-1", "branch-2", "branch-3"} {
		if _, err := a.Enroll(context.Background(), n, filepath.Join(t.TempDir(), n), nil); err != nil {
			t.Fatalf("enroll: %v", err)
		}
	}
	a.Close()
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "root"), []byte(strings.Repeat("root file system ", 1000)), 0o600)
	os.WriteFile(filepath.Join(src, "boot"), []byte(strings.Repeat("boot ", 1000)), 0o600)
	upd := filepath.Join(t.TempDir(), "update")
	if o, e, code := run(t, "update", "sign", "-dir", dir, "-root", filepath.Join(src, "root"), "-boot", filepath.Join(src, "boot"), "-serial", "3", "-version", "2026.12.06-1", "-o", upd); code != 0 || !strings.Contains(o, "update 3 (version 2026.12.06-1, arm64) signed") {
		t.Fatalf("update sign: %s %s", o, e)
	}
	if _, e, code := run(t, "update", "publish", "-dir", dir, "-update", upd, "-by", "alice"); code == 0 || !strings.Contains(e, "credentials") {
		t.Fatalf("update publish -by alice without her credentials: %d %s", code, e)
	}
	if o, e, code := as("alice", -30*time.Second, "publish", "-dir", dir, "-update", upd); code != 0 || !strings.Contains(o, "update 3 (version 2026.12.06-1, arm64) published") {
		t.Fatalf("update publish: %s %s", o, e)
	}
	if _, e, code := as("bob", -30*time.Second, "publish", "-dir", dir, "-update", upd); code == 0 || !strings.Contains(e, "serial already published") {
		t.Fatalf("update publish again: %s", e)
	}
	if o, _, _ := run(t, "update", "list", "-dir", dir); !strings.HasPrefix(o, "3\t2026.12.06-1\tarm64\t") {
		t.Fatalf("update list: %q", o)
	}
	roll := []string{"roll", "-dir", dir, "-serial", "3", "-canary", "branch-2", "-percent", "50", "-threshold", "0.3", "-confirm", "20m"}
	// A name without its credentials, an auditor: nothing rolled.
	if _, e, code := run(t, append(append([]string{"update"}, roll...), "-by", "alice")...); code == 0 || !strings.Contains(e, "credentials") {
		t.Fatalf("update roll -by alice without her credentials: %d %s", code, e)
	}
	if _, e, code := as("aud", 0, roll...); code == 0 || !strings.Contains(e, "may not") {
		t.Fatalf("update roll by an auditor: %d %s", code, e)
	}
	o, e, code := as("alice", 0, roll...)
	if code != 0 || !strings.Contains(o, "rollout 1 filed by alice") {
		t.Fatalf("update roll to three boxes is filed (four-eyes): %s %s", o, e)
	}
	if _, e, code := as("alice", 30*time.Second, "approve", "-dir", dir, "-rollout", "1"); code == 0 || !strings.Contains(e, "a second admin approves it") {
		t.Fatalf("approval by the filer: %s", e)
	}
	// "bob" named without bob's credentials (the old free-text -by).
	stdin = strings.NewReader(ops["alice"].password + "\n" + ops["alice"].code(t, -30*time.Second) + "\n")
	_, e, code = run(t, "update", "approve", "-dir", dir, "-rollout", "1", "-by", "bob")
	stdin = os.Stdin
	if code == 0 || !strings.Contains(e, "wrong name, password or code") {
		t.Fatalf("approval as bob with alice's credentials: %d %s", code, e)
	}
	if o, e, code := as("bob", 0, "approve", "-dir", dir, "-rollout", "1"); code != 0 || !strings.Contains(o, "approved and started") {
		t.Fatalf("approval by another: %s %s", o, e)
	}
	o, _, _ = run(t, "update", "status", "-dir", dir, "-rollout", "1")
	for _, want := range []string{"rollout 1: update 3 (2026.12.06-1) to every box, active, wave 0", "canary branch-2, wave 1 50 %, threshold 0.3, confirm within 20m0s, deadline 48h0m0s",
		"wave 0: 1 boxes: 0 confirmed, 0 failed, 0 skipped, 0 in flight, 1 waiting", "wave 1: 2 boxes", "0 branch-2                 waiting"} {
		if !strings.Contains(o, want) {
			t.Fatalf("update status lacks %q:\n%s", want, o)
		}
	}
	if _, e, code := run(t, "update", "stop", "-dir", dir, "-rollout", "1"); code == 0 || !strings.Contains(e, "-reason is required") {
		t.Fatalf("stop without a reason: %s", e)
	}
	if _, e, code := run(t, "update", "stop", "-dir", dir, "-rollout", "1", "-reason", "wrong build", "-by", "carol"); code == 0 || !strings.Contains(e, "credentials") {
		t.Fatalf("update stop -by carol without her credentials: %d %s", code, e)
	}
	if o, e, code := as("carol", 0, "stop", "-dir", dir, "-rollout", "1", "-reason", "wrong build"); code != 0 || !strings.Contains(o, "rollout 1 stopped") {
		t.Fatalf("update stop: %s %s", o, e)
	}
	o, _, _ = run(t, "update", "status", "-dir", dir)
	if !strings.Contains(o, "stopped (stopped by carol: wrong build)") {
		t.Fatalf("status after stop: %s", o)
	}
	o, _, _ = run(t, "events", "-dir", dir)
	for _, want := range []string{`"kind":"update_published","actor":"alice"`, `"kind":"update_rollout_filed","actor":"alice"`, `"kind":"update_rollout","actor":"bob"`, `"kind":"update_rollout_stopped","actor":"carol"`} {
		if !strings.Contains(o, want) {
			t.Fatalf("archive trail lacks %s:\n%s", want, o)
		}
	}
}

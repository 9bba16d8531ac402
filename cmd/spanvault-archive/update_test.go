package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUpdateCommandLine: sign, publish (once), roll under four-eyes
// (filed, then started by another admin), status, stop, all audited.
// Before: no update command ("unknown command").
func TestUpdateCommandLine(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "archive")
	if _, e, code := run(t, "init", "-dir", dir, "-listen", "127.0.0.1:18998"); code != 0 {
		t.Fatalf("init: %s", e)
	}
	cfg := filepath.Join(dir, "archive.toml")
	b, _ := os.ReadFile(cfg)
	if !strings.Contains(string(b), "four_eyes = false") {
		t.Fatalf("archive.toml lacks four_eyes:\n%s", b)
	}
	os.WriteFile(cfg, []byte(strings.Replace(string(b), "four_eyes = false", "four_eyes = true", 1)), 0o600)
	for _, n := range []string{"branch-1", "branch-2", "branch-3"} {
		if _, e, code := run(t, "enroll", "-dir", dir, "-name", n, "-o", filepath.Join(t.TempDir(), n)); code != 0 {
			t.Fatalf("enroll: %s", e)
		}
	}
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "root"), []byte(strings.Repeat("root file system ", 1000)), 0o600)
	os.WriteFile(filepath.Join(src, "boot"), []byte(strings.Repeat("boot ", 1000)), 0o600)
	upd := filepath.Join(t.TempDir(), "update")
	if o, e, code := run(t, "update", "sign", "-dir", dir, "-root", filepath.Join(src, "root"), "-boot", filepath.Join(src, "boot"), "-serial", "3", "-version", "2026.12.06-1", "-o", upd); code != 0 || !strings.Contains(o, "update 3 (version 2026.12.06-1, arm64) signed") {
		t.Fatalf("update sign: %s %s", o, e)
	}
	if o, e, code := run(t, "update", "publish", "-dir", dir, "-update", upd, "-by", "alice"); code != 0 || !strings.Contains(o, "update 3 (version 2026.12.06-1, arm64) published") {
		t.Fatalf("update publish: %s %s", o, e)
	}
	if _, e, code := run(t, "update", "publish", "-dir", dir, "-update", upd); code == 0 || !strings.Contains(e, "serial already published") {
		t.Fatalf("update publish again: %s", e)
	}
	if o, _, _ := run(t, "update", "list", "-dir", dir); !strings.HasPrefix(o, "3\t2026.12.06-1\tarm64\t") {
		t.Fatalf("update list: %q", o)
	}
	o, e, code := run(t, "update", "roll", "-dir", dir, "-serial", "3", "-canary", "branch-2", "-percent", "50", "-threshold", "0.3", "-confirm", "20m", "-by", "alice")
	if code != 0 || !strings.Contains(o, "rollout 1 filed by alice") {
		t.Fatalf("update roll under four-eyes: %s %s", o, e)
	}
	if _, e, code := run(t, "update", "approve", "-dir", dir, "-rollout", "1", "-by", "alice"); code == 0 || !strings.Contains(e, "a second admin approves it") {
		t.Fatalf("approval by the filer: %s", e)
	}
	if o, e, code := run(t, "update", "approve", "-dir", dir, "-rollout", "1", "-by", "bob"); code != 0 || !strings.Contains(o, "approved and started") {
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
	if o, e, code := run(t, "update", "stop", "-dir", dir, "-rollout", "1", "-reason", "wrong build", "-by", "carol"); code != 0 || !strings.Contains(o, "rollout 1 stopped") {
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

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(args, &out, &errb)
	return out.String(), errb.String(), code
}

// The command line the README and the checks rely on: names, files and
// modes, and clear errors.
func TestCommandLine(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "archive")
	if _, e, code := run(t, "init", "-dir", dir, "-listen", "127.0.0.1:18999"); code != 0 {
		t.Fatalf("init: %s", e)
	}
	if _, e, code := run(t, "init", "-dir", dir); code == 0 || !strings.Contains(e, "already holds an archive") {
		t.Fatalf("second init: %d %s", code, e)
	}
	for path, mode := range map[string]os.FileMode{"": 0o700, "archive.toml": 0o600, "ca/ca.key": 0o600, "server.key": 0o600, "anchor.skey": 0o600} {
		fi, err := os.Stat(filepath.Join(dir, path))
		if err != nil || fi.Mode().Perm() != mode {
			t.Fatalf("%s: %v %v, want %v", path, fi.Mode().Perm(), err, mode)
		}
	}
	out := filepath.Join(t.TempDir(), "box")
	if _, e, code := run(t, "enroll", "-dir", dir, "-name", "branch-7", "-o", out); code != 0 {
		t.Fatalf("enroll: %s", e)
	}
	toml, _ := os.ReadFile(filepath.Join(out, "sync.toml"))
	for _, want := range []string{"[sync]", `name = "branch-7"`, `archives = ["127.0.0.1:18999"]`, "sync.crt", "sync.key", "ca.crt", "anchor.vkey", "api.crt", "\nupdate_key = \""} {
		if !bytes.Contains(toml, []byte(want)) {
			t.Fatalf("sync.toml lacks %q:\n%s", want, toml)
		}
	}
	if fi, _ := os.Stat(filepath.Join(out, "sync.key")); fi.Mode().Perm() != 0o600 {
		t.Fatalf("sync.key mode %v", fi.Mode().Perm())
	}
	if _, e, code := run(t, "enroll", "-dir", dir, "-name", "Bad Name", "-o", out); code == 0 || !strings.Contains(e, "appliance name") {
		t.Fatalf("bad name: %s", e)
	}
	if o, e, code := run(t, "recordings", "-dir", dir, "-json"); code != 0 || o != "" {
		t.Fatalf("recordings on an empty archive: %q %s", o, e)
	}
	if _, e, code := run(t, "get", "-dir", dir, "-appliance", "branch-7", "-id", "06abc", "-o", filepath.Join(t.TempDir(), "x")); code == 0 || !strings.Contains(e, "filed first") {
		t.Fatalf("get without an export request: %s", e)
	}
	if _, e, code := run(t, "erase", "-dir", dir, "-appliance", "branch-9", "-id", "06abc", "-reason", "x"); code == 0 || !strings.Contains(e, "unknown appliance") {
		t.Fatalf("erase for an unknown box: %s", e)
	}
	if _, e, code := run(t, "erase", "-dir", dir, "-appliance", "branch-7", "-all"); code == 0 || !strings.Contains(e, "pull only") {
		t.Fatalf("erase -all: %s", e)
	}
	if o, e, code := run(t, "pull", "-dir", dir, "-appliance", "branch-7", "-all"); code == 0 || !strings.Contains(e, "-by") {
		t.Fatalf("pull without -by: %s %s", o, e)
	}
	if o, _, _ := run(t, "commands", "-dir", dir); o != "" {
		t.Fatalf("commands: %s", o)
	}
	if _, e, code := run(t, "revoke", "-dir", dir, "-name", "branch-7", "-reason", "test"); code != 0 {
		t.Fatalf("revoke: %s", e)
	}
	if o, e, code := run(t, "verify", "-dir", dir); code != 0 || !strings.Contains(o, "archive trail") {
		t.Fatalf("verify: %s %s", o, e)
	}
	if _, e, code := run(t, "recordings", "-dir", t.TempDir()); code == 0 || !strings.Contains(e, "holds no archive") {
		t.Fatalf("no archive: %s", e)
	}
	if _, e, code := run(t, "serve"); code == 0 || !strings.Contains(e, "-dir is required") {
		t.Fatalf("serve without -dir: %s", e)
	}
}

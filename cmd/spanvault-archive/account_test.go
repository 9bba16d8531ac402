package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
)

// TestUserLifecycle (issue 20 finding 10): "user disable|enable|unlock|
// reset" from the command line; a reset with the identity seals the new
// second factor at once; the index is 0600.
func TestUserLifecycle(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "archive")
	if _, e, code := run(t, "init", "-dir", dir, "-listen", "127.0.0.1:0"); code != 0 {
		t.Fatalf("init: %s", e)
	}
	if _, e, code := run(t, "user", "add", "-dir", dir, "-name", "dana", "-role", "auditor"); code != 0 {
		t.Fatalf("user add: %s", e)
	}
	if _, e, code := run(t, "user", "disable", "-dir", dir, "-name", "dana"); code == 0 || !strings.Contains(e, "reason") {
		t.Fatalf("disable without a reason: %d %s", code, e)
	}
	if _, e, code := run(t, "user", "disable", "-dir", dir, "-name", "dana", "-reason", "on leave"); code != 0 {
		t.Fatalf("disable: %s", e)
	}
	if o, _, _ := run(t, "user", "list", "-dir", dir); !strings.Contains(o, "on leave") {
		t.Fatalf("user list after disable: %q", o)
	}
	for _, op := range []string{"enable", "unlock"} {
		if _, e, code := run(t, "user", op, "-dir", dir, "-name", "dana"); code != 0 {
			t.Fatalf("%s: %s", op, e)
		}
	}
	if o, _, _ := run(t, "user", "list", "-dir", dir); strings.Contains(o, "on leave") {
		t.Fatalf("user list after enable: %q", o)
	}
	if _, e, code := run(t, "user", "unlock", "-dir", dir, "-name", "nobody"); code == 0 || !strings.Contains(e, "no such user") {
		t.Fatalf("unlock of an unknown user: %d %s", code, e)
	}
	id, _ := age.GenerateX25519Identity()
	idFile := filepath.Join(t.TempDir(), "identity")
	os.WriteFile(idFile, []byte(id.String()+"\n"), 0o600)
	out, e, code := run(t, "user", "reset", "-dir", dir, "-name", "dana", "-identity", idFile)
	if code != 0 || !strings.Contains(out, "password: ") || !strings.Contains(out, "totp: otpauth://") {
		t.Fatalf("reset: %d %q %s", code, out, e)
	}
	secret := out[strings.Index(out, "secret=")+len("secret="):]
	secret = secret[:strings.IndexAny(secret, "&\n")]
	for _, p := range []string{"index.db", "index.db-wal"} {
		b, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			continue
		}
		if strings.Contains(string(b), secret) {
			t.Errorf("%s holds the reset second factor in clear", p)
		}
		if fi, _ := os.Stat(filepath.Join(dir, p)); fi.Mode().Perm() != 0o600 {
			t.Errorf("%s is %v", p, fi.Mode().Perm())
		}
	}
}

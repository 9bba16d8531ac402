package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spanvault/spanvault/archive/access"
)

// TestUserLifecycle (issue 20 finding 10): "user disable|enable|unlock"
// from the command line, by an authenticated admin, in the admin's name;
// "user reset" files a request a second admin approves (who receives a
// setup link, not secrets); the index is 0600.
func TestUserLifecycle(t *testing.T) {
	e := newCLIEnv(t, map[string]cliUser{"otto": {role: access.Admin}, "olga": {role: access.Admin}, "dana": {role: access.Auditor}})
	if _, se, c := e.as("otto", "user", "disable", "-name", "dana"); c == 0 || !strings.Contains(se, "reason") {
		t.Fatalf("disable without a reason: %d %s", c, se)
	}
	if _, se, c := e.as("otto", "user", "disable", "-name", "dana", "-reason", "on leave"); c != 0 {
		t.Fatalf("disable: %s", se)
	}
	if o, _, _ := run(t, "user", "list", "-dir", e.dir); !strings.Contains(o, "on leave") {
		t.Fatalf("user list after disable: %q", o)
	}
	for _, op := range []string{"enable", "unlock"} {
		if _, se, c := e.as("otto", "user", op, "-name", "dana"); c != 0 {
			t.Fatalf("%s: %s", op, se)
		}
		if !e.trailHas(access.OpEvent(op), "otto", "dana") {
			t.Fatalf("%s is not in the trail under otto's name", op)
		}
	}
	if o, _, _ := run(t, "user", "list", "-dir", e.dir); strings.Contains(o, "on leave") {
		t.Fatalf("user list after enable: %q", o)
	}
	if _, se, c := e.as("otto", "user", "unlock", "-name", "nobody"); c == 0 || !strings.Contains(se, "no such user") {
		t.Fatalf("unlock of an unknown user: %d %s", c, se)
	}
	o, se, c := e.as("otto", "user", "reset", "-name", "dana", "-reason", "new phone")
	if c != 0 || strings.Contains(o, "otpauth") {
		t.Fatalf("reset: %d %q %s", c, o, se)
	}
	if o, se, c := e.as("olga", "request", "approve", "-id", filed(t, o)); c != 0 || strings.Contains(o, "otpauth") || !strings.Contains(o, "/setup/") {
		t.Fatalf("reset approved: %d %q %s", c, o, se)
	}
	for _, p := range []string{"index.db", "index.db-wal"} {
		if fi, err := os.Stat(filepath.Join(e.dir, p)); err == nil && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s is %v", p, fi.Mode().Perm())
		}
	}
}

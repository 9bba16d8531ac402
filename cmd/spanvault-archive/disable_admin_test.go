package main

import (
	"context"
	"strings"
	"testing"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/access"
)

// enabledAdmins counts the archive's enabled admin accounts.
func (e *cliEnv) enabledAdmins() (n int) {
	e.db(func(a *archive.Archive) {
		if err := a.Index.DB().QueryRowContext(context.Background(), `SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = ''`).Scan(&n); err != nil {
			e.t.Fatal(err)
		}
	})
	return n
}

// TestCLIDisableKeepsTwoAdmins: "user disable" of an admin is refused
// when it would leave fewer than two enabled admin accounts, the rule a
// role request keeps (TestRoleChangeKeepsScope). Three admins: the first
// disable leaves two and is done; the second would leave one. Before, it
// was done, and one admin alone held every four-eyes approval's second
// pair of eyes.
func TestCLIDisableKeepsTwoAdmins(t *testing.T) {
	e := newCLIEnv(t, map[string]cliUser{"otto": {role: access.Admin}, "olga": {role: access.Admin}, "oskar": {role: access.Admin}})
	if _, se, c := e.as("otto", "user", "disable", "-name", "olga", "-reason", "on leave"); c != 0 {
		t.Fatalf("disabling one of three admins: %s", se)
	}
	if _, se, c := e.as("otto", "user", "disable", "-name", "oskar", "-reason", "left"); c == 0 || !strings.Contains(se, "at least 2 enabled admin") {
		t.Errorf("disabling an admin that leaves one enabled admin: exit %d, %q", c, se)
	}
	if n := e.enabledAdmins(); n < 2 {
		t.Errorf("%d enabled admins left after the command line's disable", n)
	}
}

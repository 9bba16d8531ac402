package access_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/spanvault/spanvault/archive/access"
)

// TestDisableKeepsTwoAdmins: disabling an admin through the access
// service (POST /api/v1/users/{name}/disable, what the web's users page
// posts too) is refused when it would leave fewer than two enabled admin
// accounts, the rule a role request keeps (TestRoleChangeKeepsScope).
// Before, the second disable of three admins was done: one admin left.
func TestDisableKeepsTwoAdmins(t *testing.T) {
	e := newEnv(t, nil)
	a1 := e.signIn(e.addUser("adm-1", access.Admin))
	e.addUser("adm-2", access.Admin)
	e.addUser("adm-3", access.Admin)
	if st, body := a1.do("POST", "/api/v1/users/adm-2/disable", access.AccountOp{Reason: "on leave"}, nil); st != http.StatusNoContent {
		t.Fatalf("disabling one of three admins: %d %s", st, body)
	}
	st, body := a1.do("POST", "/api/v1/users/adm-3/disable", access.AccountOp{Reason: "left"}, nil)
	if st != http.StatusForbidden || !strings.Contains(body, "at least 2 enabled admin") {
		t.Errorf("disabling an admin that leaves one enabled admin: %d %s, want 403", st, body)
	}
	n := 0
	us, err := access.ListUsers(t.Context(), e.a.Index.DB())
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range us {
		if u.Role == access.Admin && u.Disabled == "" {
			n++
		}
	}
	if n < 2 {
		t.Errorf("%d enabled admins left after the disables", n)
	}
}

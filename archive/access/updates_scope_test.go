package access_test

import (
	"strings"
	"testing"

	"github.com/spanvault/spanvault/archive/access"
)

// TestSecUpdatesInScope: an auditor/admin of branch-a must not read
// branch-b's rollout row (its name, state, failure reason).
func TestSecUpdatesInScope(t *testing.T) {
	e, _ := rolledOut(t)
	for _, u := range []*user{e.addUser("adam", access.Admin, "branch-a"), e.addUser("aud", access.Auditor, "branch-a")} {
		c := e.signIn(u)
		st, body := c.do("GET", "/api/v1/updates", nil, nil)
		if st == 200 && strings.Contains(body, "branch-b") {
			t.Errorf("%s (%s of branch-a): GET /api/v1/updates shows branch-b: %.400s", u.name, u.role, body[strings.Index(body, "branch-b")-80:])
		}
		if st != 200 || !strings.Contains(body, `"appliance":"branch-a"`) {
			t.Errorf("%s: GET /api/v1/updates does not show its own branch-a: %d %.300s", u.name, st, body)
		}
		w := e.web1(t, u)
		if st, page := w.get("/fleet/updates"); st == 200 && strings.Contains(page, "did not confirm") {
			t.Errorf("%s: /fleet/updates shows branch-b's failure reason", u.name)
		}
	}
}

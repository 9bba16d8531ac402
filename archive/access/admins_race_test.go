package access_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/spanvault/spanvault/archive/access"
)

// TestConcurrentAdminRemovalsKeepTwo: on PostgreSQL, two admins' removals
// decided at the same moment (two demotions of different admins approved
// together, or a demotion approved while another admin is disabled), with
// three enabled admins, must not both pass "at least two enabled admins
// remain": the check and the write are one step. Each round releases both
// through a barrier; after it, at least two enabled admins remain. Before,
// each guarded UPDATE counted the other admin still enabled (READ
// COMMITTED: its own snapshot), and both were done.
func TestConcurrentAdminRemovalsKeepTwo(t *testing.T) {
	t.Setenv("SPANVAULT_TEST_INDEX", "postgres")
	e := newEnv(t, nil)
	ctx := context.Background()
	db := e.a.Index.DB()
	e.addUser("adm-0", access.Admin)
	users := func() map[string]*access.User {
		us, err := access.ListUsers(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]*access.User{}
		for _, u := range us {
			m[u.Name] = u
		}
		return m
	}
	enabled := func() (n int) {
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = ''`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	const rounds = 40
	for i := range rounds {
		x, y := fmt.Sprintf("x-%d", i), fmt.Sprintf("y-%d", i)
		e.addUser(x, access.Admin)
		e.addUser(y, access.Admin)
		us := users()
		// x files y's demotion, y files x's: adm-0 approves both.
		rx, err := e.svc.FileRequest(ctx, us[y], access.RequestInput{Kind: access.ReqRole, User: x, Role: "dpo", Reason: "moves"})
		if err != nil {
			t.Fatal(err)
		}
		var ry *access.Request
		if i%2 == 0 {
			if ry, err = e.svc.FileRequest(ctx, us[x], access.RequestInput{Kind: access.ReqRole, User: y, Role: "dpo", Reason: "moves"}); err != nil {
				t.Fatal(err)
			}
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			e.svc.DecideRequest(ctx, us["adm-0"], rx.ID, true) //nolint:errcheck // one of the two is refused
		}()
		go func() {
			defer wg.Done()
			<-start
			if ry != nil {
				e.svc.DecideRequest(ctx, us["adm-0"], ry.ID, true) //nolint:errcheck
			} else {
				e.svc.Account(ctx, us["adm-0"], y, access.OpDisable, "left") //nolint:errcheck
			}
		}()
		close(start)
		wg.Wait()
		if n := enabled(); n < 2 {
			kind := "two demotions"
			if ry == nil {
				kind = "a demotion and a disable"
			}
			t.Fatalf("round %d of %d: %s at once left %d enabled admin(s)", i+1, rounds, kind, n)
		}
		// Back to adm-0 alone (and the next round's two), whatever
		// survived this one.
		if _, err := db.ExecContext(ctx, `UPDATE users SET role = 'dpo' WHERE name IN (?, ?)`, x, y); err != nil {
			t.Fatal(err)
		}
	}
}

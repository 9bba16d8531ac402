package index

import (
	"context"
	"database/sql"
	"testing"
)

// An index written before migration 25 that holds accounts (here one
// dpo, no admin at all) has both bootstrap slots taken by the migration;
// one without accounts has both free (TestMigrationBootstrapSlotsEmpty),
// and a third slot, or a slot taken twice, is refused by the database.
func TestMigrationBootstrapSlots(t *testing.T) {
	onOldIndex(t, func(t *testing.T, engine string, old *sql.DB, where string) {
		if _, err := old.Exec(`INSERT INTO users (name, role, branches, password, totp, created_at) VALUES ('dora', 'dpo', '*', 'x', 'x', '')`); err != nil {
			t.Fatal(err)
		}
		old.Close()
		x, err := Open(where)
		if err != nil {
			t.Fatal(err)
		}
		defer x.Close()
		if n := taken(t, x); n != 2 {
			t.Fatalf("%s: %d bootstrap slots taken on an index with accounts, want 2", engine, n)
		}
	})
}

// (A second test, not a second onOldIndex in one: the subtests' names,
// sqlite#01, would put a '#' in the index's path, which Open's file: URI
// reads as a fragment.)
func TestMigrationBootstrapSlotsEmpty(t *testing.T) {
	ctx := context.Background()
	onOldIndex(t, func(t *testing.T, engine string, old *sql.DB, where string) {
		old.Close()
		x, err := Open(where)
		if err != nil {
			t.Fatal(err)
		}
		defer x.Close()
		if n := taken(t, x); n != 0 {
			t.Fatalf("%s: %d bootstrap slots taken on an index without accounts, want 0", engine, n)
		}
		for _, q := range []string{
			`INSERT INTO bootstrap_slots (slot, name, taken_at) VALUES (1, 'a', '')`,
			`INSERT INTO bootstrap_slots (slot, name, taken_at) VALUES (2, 'b', '')`,
		} {
			if _, err := x.DB().ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		for _, q := range []string{
			`INSERT INTO bootstrap_slots (slot, name, taken_at) VALUES (2, 'c', '')`,
			`INSERT INTO bootstrap_slots (slot, name, taken_at) VALUES (3, 'c', '')`,
		} {
			if _, err := x.DB().ExecContext(ctx, q); err == nil {
				t.Fatalf("%s: %s: accepted", engine, q)
			}
		}
	})
}

func taken(t *testing.T, x *Index) int {
	t.Helper()
	var n int
	if err := x.DB().QueryRowContext(context.Background(), `SELECT COUNT(*) FROM bootstrap_slots`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

package index

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/spanvault/spanvault/archive/index/pgtest"
)

// An index at version 26 whose two bootstrap slots carry one name (two
// bootstraps of root at once; one added root) keeps root's lowest slot
// and gets the other back; from then on a second slot of a name is
// refused by the database, the empty name of migration 25 excepted.
func TestMigrationBootstrapSlotNames(t *testing.T) {
	ctx := context.Background()
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			where := filepath.Join(t.TempDir(), "index.db")
			if engine == "postgres" {
				where = pgtest.Start(t)
			}
			x, err := Open(where)
			if err != nil {
				t.Fatal(err)
			}
			exec := func(q string) error {
				_, err := x.DB().ExecContext(ctx, q)
				return err
			}
			// As an index before version 27 was, after the race.
			for _, q := range []string{
				`DROP INDEX bootstrap_slots_name`,
				`DELETE FROM schema_version WHERE version = 27`,
				`INSERT INTO bootstrap_slots (slot, name, taken_at) VALUES (1, 'root', '')`,
				`INSERT INTO bootstrap_slots (slot, name, taken_at) VALUES (2, 'root', '')`,
			} {
				if err := exec(q); err != nil {
					t.Fatal(err)
				}
			}
			x.Close()
			if x, err = Open(where); err != nil {
				t.Fatal(err)
			}
			defer x.Close()
			var slot int
			if err := x.DB().QueryRowContext(ctx, `SELECT slot FROM bootstrap_slots WHERE name = 'root'`).Scan(&slot); err != nil || slot != 1 || taken(t, x) != 1 {
				t.Fatalf("%s: root's slot %d (%v), %d taken; want slot 1, one taken", engine, slot, err, taken(t, x))
			}
			if err := exec(`INSERT INTO bootstrap_slots (slot, name, taken_at) VALUES (2, 'root', '')`); err == nil {
				t.Fatalf("%s: a second slot for root accepted", engine)
			}
			for _, q := range []string{
				`INSERT INTO bootstrap_slots (slot, name, taken_at) VALUES (2, 'second', '')`,
				`DELETE FROM bootstrap_slots`,
				`INSERT INTO bootstrap_slots (slot, name, taken_at) VALUES (1, '', '')`,
				`INSERT INTO bootstrap_slots (slot, name, taken_at) VALUES (2, '', '')`,
			} {
				if err := exec(q); err != nil {
					t.Fatalf("%s: %s: %v", engine, q, err)
				}
			}
		})
	}
}

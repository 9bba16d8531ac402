package index

import (
	"context"
	"database/sql"
	"testing"
	"time"
)

// An index whose erasures kept the erased rows' sealed metadata and
// blind search terms (before purgeErased) opens without them; a
// tombstone keeps its sealed subject and terms, a live row its own, on
// both engines.
func TestMigrationPurgesErasedRows(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	onOldIndex(t, func(t *testing.T, engine string, old *sql.DB, where string) {
		del := ts(t0.Add(time.Hour))
		for _, r := range []struct{ id, kind, deleted, entry string }{
			{"kept", "cdr", "", "{}"},
			{"erased", "cdr", del, "{}"},
			{"erased", "tombstone", del, `{"id":"erased","reason":"erasure","by":"dpo"}`},
		} {
			q := `INSERT INTO records (appliance, id, kind, start, class, retain_until, hold, recorded, size, sha256, deleted_at, entry, sealed, subject, received_at)
				VALUES ('b', $1, $2, $3, 'default', $3, false, false, 1, 'sum', $4, $5, $6, $6, $3)`
			tq := `INSERT INTO search_terms (term, appliance, id, kind) VALUES ('t', 'b', $1, $2)`
			if engine == "sqlite" {
				q = `INSERT INTO records (appliance, id, kind, start, class, retain_until, hold, recorded, size, sha256, deleted_at, entry, sealed, subject, received_at)
					VALUES ('b', ?1, ?2, ?3, 'default', ?3, 0, 0, 1, 'sum', ?4, ?5, ?6, ?6, ?3)`
				tq = `INSERT INTO search_terms (term, appliance, id, kind) VALUES ('t', 'b', ?1, ?2)`
			}
			if _, err := old.Exec(q, r.id, r.kind, ts(t0), r.deleted, r.entry, []byte("sealed")); err != nil {
				t.Fatal(err)
			}
			if _, err := old.Exec(tq, r.id, r.kind); err != nil {
				t.Fatal(err)
			}
		}
		old.Close()
		x, err := Open(where)
		if err != nil {
			t.Fatal(err)
		}
		defer x.Close()
		rs, err := x.Records(ctx, Query{Appliance: "b"})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			erased := r.ID == "erased" && r.Kind != "tombstone"
			if held := len(r.Sealed) > 0 || len(r.Subject) > 0; held == erased {
				t.Errorf("%s/%s: sealed data held %v", r.ID, r.Kind, held)
			}
			if r.SHA256 != "sum" {
				t.Errorf("%s/%s lost its hash", r.ID, r.Kind)
			}
			var n int
			if err := x.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM search_terms WHERE appliance = 'b' AND id = ? AND kind = ?`, r.ID, r.Kind).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if (n > 0) == erased {
				t.Errorf("%s/%s: %d search terms", r.ID, r.Kind, n)
			}
		}
		if len(rs) != 3 {
			t.Fatalf("%d rows", len(rs))
		}
	})
}

package index

import (
	"context"
	"database/sql"
	"testing"
	"time"
)

// An index written before tombstone kinds (schema version 0, where every
// tombstone marked its recording deleted) opens at version 2 with the
// recordings a box merely let go live again, and those erased still
// erased, on both engines.
func TestMigrationRevivesRemovedRecordings(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	onOldIndex(t, func(t *testing.T, engine string, old *sql.DB, where string) {
		del := ts(t0.Add(time.Hour))
		for _, r := range []struct{ id, kind, deleted, entry string }{
			{"kept", "recording", "", "{}"},
			{"grace", "recording", del, "{}"},
			{"grace", "tombstone", del, `{"id":"grace","reason":"synced_and_grace_passed","by":"retention"}`},
			{"erased", "recording", del, "{}"},
			{"erased", "tombstone", del, `{"id":"erased","reason":"erasure","by":"dpo"}`},
			{"ordered", "recording", del, "{}"},
			{"ordered", "tombstone", del, `{"reason":"erased by archive command"}`},
		} {
			q := `INSERT INTO records (appliance, id, kind, start, class, retain_until, hold, recorded, size, sha256, deleted_at, entry, received_at)
				VALUES ('b', $1, $2, $3, 'default', $3, false, true, 1, '', $4, $5, $3)`
			if engine == "sqlite" {
				q = `INSERT INTO records (appliance, id, kind, start, class, retain_until, hold, recorded, size, sha256, deleted_at, entry, received_at)
					VALUES ('b', ?1, ?2, ?3, 'default', ?3, 0, 1, 1, '', ?4, ?5, ?3)`
			}
			if _, err := old.Exec(q, r.id, r.kind, ts(t0), r.deleted, r.entry); err != nil {
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
		got := map[string]Record{}
		for _, r := range rs {
			got[r.ID+"/"+r.Kind] = r
		}
		if r := got["grace/recording"]; !r.DeletedAt.IsZero() || !r.RemovedFromBoxAt.Equal(t0.Add(time.Hour)) || got["grace/tombstone"].Tombstone != TombstoneRemoved {
			t.Fatalf("removed by the box's retention: %+v / %q", r, got["grace/tombstone"].Tombstone)
		}
		for _, id := range []string{"erased", "ordered"} {
			if r := got[id+"/recording"]; r.DeletedAt.IsZero() || got[id+"/tombstone"].Tombstone != TombstoneErased {
				t.Fatalf("%s: %+v / %q", id, r, got[id+"/tombstone"].Tombstone)
			}
		}
		if r := got["kept/recording"]; !r.DeletedAt.IsZero() || !r.RemovedFromBoxAt.IsZero() {
			t.Fatalf("kept: %+v", r)
		}
	})
}

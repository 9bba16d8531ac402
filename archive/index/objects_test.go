package index_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/archive/index/pgtest"
)

// Migration 3 gives every object already named by records to the box
// whose record arrived first; later claims by other boxes are refused.
func TestObjectOwnersBackfillAndClaim(t *testing.T) {
	ctx := context.Background()
	for name, where := range map[string]string{"sqlite": filepath.Join(t.TempDir(), "index.db"), "postgres": pgtest.Start(t)} {
		t.Run(name, func(t *testing.T) {
			x, err := index.Open(where)
			if err != nil {
				t.Fatal(err)
			}
			t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			sum := fmt.Sprintf("%064x", 7)
			rec := func(app, id string, at time.Time) index.Record {
				return index.Record{Appliance: app, ID: id, Kind: "recording", Start: t0, Class: "default", RetainUntil: t0.AddDate(7, 0, 0),
					Recorded: true, Size: 10, SHA256: sum, Entry: "{}", ReceivedAt: at}
			}
			// An index from before owners were kept: box b named the object
			// first, box a (the finding's attack) later.
			if err := x.PutRecords(ctx, []index.Record{rec("branch-b", "01", t0), rec("branch-a", "02", t0.Add(time.Hour)), rec("branch-b", "03", t0.Add(2*time.Hour))}); err != nil {
				t.Fatal(err)
			}
			for _, q := range []string{`DROP TABLE objects`, `DELETE FROM schema_version WHERE version = 3`} {
				if _, err := x.DB().ExecContext(ctx, q); err != nil {
					t.Fatal(err)
				}
			}
			x.Close()
			if x, err = index.Open(where); err != nil {
				t.Fatal(err)
			}
			defer x.Close()
			if o, err := x.ObjectOwner(ctx, sum); err != nil || o != "branch-b" {
				t.Fatalf("owner after the migration: %q %v", o, err)
			}
			if o, err := x.ClaimObject(ctx, sum, "branch-a", 10, t0); err != nil || o != "branch-b" {
				t.Fatalf("a second box's claim: owner %q %v", o, err)
			}
			other := fmt.Sprintf("%064x", 8)
			if o, err := x.ClaimObject(ctx, other, "branch-a", 10, t0); err != nil || o != "branch-a" {
				t.Fatalf("a first claim: owner %q %v", o, err)
			}
			if o, _ := x.ObjectOwner(ctx, fmt.Sprintf("%064x", 9)); o != "" {
				t.Fatalf("an unknown object has owner %q", o)
			}
		})
	}
}

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

// AdmitFacts answers for a whole batch what admitting each recording
// asked the index one query at a time: the object's owner, the box's row
// for the id (a repeat, its hold), any held row of the object, and the
// last hold or release command for the id; on SQLite and PostgreSQL.
func TestAdmitFacts(t *testing.T) {
	ctx := context.Background()
	for name, where := range map[string]string{"sqlite": filepath.Join(t.TempDir(), "index.db"), "postgres": pgtest.Start(t)} {
		t.Run(name, func(t *testing.T) {
			x, err := index.Open(where)
			if err != nil {
				t.Fatal(err)
			}
			defer x.Close()
			t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			sum := func(n int) string { return fmt.Sprintf("%064x", n) }
			rec := func(app, id string, n int, hold bool) index.Record {
				return index.Record{Appliance: app, ID: id, Kind: "recording", Start: t0, Class: "default", RetainUntil: t0.AddDate(7, 0, 0),
					Hold: hold, Recorded: true, Size: 10, SHA256: sum(n), Entry: "{}", ReceivedAt: t0}
			}
			for n, app := range map[int]string{1: "a", 2: "a", 3: "b", 4: "a", 5: "a"} {
				if _, err := x.ClaimObject(ctx, sum(n), app, 10, t0); err != nil {
					t.Fatal(err)
				}
			}
			// a/r1 indexed on hold; b/r9 names object 2 on hold; a/r4's
			// last command a release after a hold, a/r5's a hold.
			if err := x.PutRecords(ctx, []index.Record{rec("a", "r1", 1, true), rec("b", "r9", 2, true)}); err != nil {
				t.Fatal(err)
			}
			for _, c := range []index.Command{{Appliance: "a", Kind: "hold", Recording: "r4"}, {Appliance: "a", Kind: "release", Recording: "r4"}, {Appliance: "a", Kind: "hold", Recording: "r5"}, {Appliance: "b", Kind: "hold", Recording: "r2"}} {
				c.By, c.IssuedAt = "bob", t0
				if _, err := x.AddCommand(ctx, c); err != nil {
					t.Fatal(err)
				}
			}
			ids := []string{"r1", "r2", "r3", "r4", "r5", "r6"}
			sums := []string{sum(1), sum(2), sum(3), sum(4), sum(5), sum(6)}
			got, err := x.AdmitFacts(ctx, "a", ids, sums)
			if err != nil {
				t.Fatal(err)
			}
			want := []index.AdmitFact{
				{Owner: "a", Repeat: true, RepeatHold: true, ObjectHeld: true},
				{Owner: "a", ObjectHeld: true},
				{Owner: "b"},
				{Owner: "a"},
				{Owner: "a", HoldCommanded: true},
				{},
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("%s: %+v, want %+v", ids[i], got[i], want[i])
				}
				// The one-at-a-time answers agree.
				o, _ := x.ObjectOwner(ctx, sums[i])
				hc, _ := x.HoldCommanded(ctx, "a", ids[i])
				prev, _ := x.Records(ctx, index.Query{Appliance: "a", ID: ids[i], Kind: "recording"})
				if o != got[i].Owner || hc != got[i].HoldCommanded || (len(prev) > 0) != got[i].Repeat {
					t.Errorf("%s: the single queries say owner %q, hold commanded %v, %d rows", ids[i], o, hc, len(prev))
				}
			}
		})
	}
}

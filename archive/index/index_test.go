package index_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/archive/index/pgtest"
)

// engines opens the same index twice (two front-ends) on each engine:
// SQLite (one file, one machine) and a private PostgreSQL server.
func engines(t *testing.T) map[string][2]*index.Index {
	out := map[string][2]*index.Index{}
	open := func(name, where string) {
		var pair [2]*index.Index
		for i := range pair {
			ix, err := index.Open(where)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			t.Cleanup(func() { ix.Close() })
			pair[i] = ix
		}
		out[name] = pair
	}
	open("sqlite", filepath.Join(t.TempDir(), "index.db"))
	open("postgres", pgtest.Start(t))
	return out
}

// TestEnginesAgree: the same statements give the same answers on SQLite
// and PostgreSQL; records inserted twice stay one; queries by appliance,
// day, expiry, hold and hash; a removal's tombstone marks its recording
// removed from the box, an erasure's marks it erased.
func TestEnginesAgree(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for name, ix := range engines(t) {
		t.Run(name, func(t *testing.T) {
			a, b := ix[0], ix[1]
			var rs []index.Record
			for i := range 40 {
				rs = append(rs, index.Record{Appliance: fmt.Sprintf("branch-%d", i%2), ID: fmt.Sprintf("r%02d", i), Kind: "recording",
					Start: t0.Add(time.Duration(i) * time.Hour), Class: "default", RetainUntil: t0.AddDate(0, 0, i),
					Hold: i%10 == 0, Recorded: true, Size: int64(i), SHA256: fmt.Sprintf("%064d", i), Entry: "{}", Sealed: []byte{1, 2}, ReceivedAt: t0})
			}
			if err := a.PutRecords(ctx, rs); err != nil {
				t.Fatal(err)
			}
			if err := b.PutRecords(ctx, rs[:10]); err != nil { // the other front-end repeats a batch
				t.Fatal(err)
			}
			count := func(q index.Query) int {
				got, err := b.Records(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				return len(got)
			}
			for _, c := range []struct {
				q    index.Query
				want int
			}{
				{index.Query{}, 40},
				{index.Query{Appliance: "branch-1"}, 20},
				{index.Query{From: t0, To: t0.Add(24 * time.Hour)}, 24},
				{index.Query{ExpiresBy: t0.AddDate(0, 0, 5)}, 5},
				{index.Query{HoldOnly: true}, 4},
				{index.Query{SHA256: fmt.Sprintf("%064d", 7)}, 1},
			} {
				if got := count(c.q); got != c.want {
					t.Errorf("%+v: %d records, want %d", c.q, got, c.want)
				}
			}
			if err := a.PutRecords(ctx, []index.Record{{Appliance: "branch-1", ID: "r01", Kind: "tombstone", Start: t0, DeletedAt: t0.Add(time.Hour), Entry: "{}", ReceivedAt: t0}}); err != nil {
				t.Fatal(err)
			}
			// A tombstone without a kind is a removal from the box: the
			// recording stays live; an erasure's marks it erased.
			got, _ := b.Records(ctx, index.Query{Appliance: "branch-1", ID: "r01", Kind: "recording"})
			if len(got) != 1 || !got[0].DeletedAt.IsZero() || !got[0].RemovedFromBoxAt.Equal(t0.Add(time.Hour)) || !got[0].Hold == (1%10 == 0) {
				t.Fatalf("record removed from the box: %+v", got)
			}
			if err := a.PutRecords(ctx, []index.Record{{Appliance: "branch-1", ID: "r03", Kind: "tombstone", Tombstone: index.TombstoneErased, Start: t0, DeletedAt: t0.Add(time.Hour), Entry: "{}", ReceivedAt: t0}}); err != nil {
				t.Fatal(err)
			}
			got, _ = b.Records(ctx, index.Query{Appliance: "branch-1", ID: "r03", Kind: "recording"})
			tomb, _ := b.Records(ctx, index.Query{Appliance: "branch-1", ID: "r03", Kind: "tombstone"})
			if len(got) != 1 || got[0].DeletedAt.IsZero() || got[0].RemovedFromBoxAt.IsZero() || len(tomb) != 1 || tomb[0].Tombstone != index.TombstoneErased {
				t.Fatalf("erased record: %+v %+v", got, tomb)
			}
			id1, err := a.AddCommand(ctx, index.Command{Appliance: "branch-0", Kind: "erase", Recording: "r00", IssuedAt: t0})
			if err != nil {
				t.Fatal(err)
			}
			id2, err := b.AddCommand(ctx, index.Command{Appliance: "branch-0", Kind: "hold", Recording: "r02", IssuedAt: t0})
			if err != nil || id2 <= id1 {
				t.Fatalf("command ids %d, %d: %v", id1, id2, err)
			}
		})
	}
}

// TestFrontEndsShareTheTrail: two front-ends append to the archive's own
// hash-chained audit trail at the same time; the chain stays one chain.
func TestFrontEndsShareTheTrail(t *testing.T) {
	ctx := context.Background()
	for name, ix := range engines(t) {
		t.Run(name, func(t *testing.T) {
			var wg sync.WaitGroup
			errs := make(chan error, 200)
			for f := range 2 {
				for g := range 4 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := range 25 {
							if _, err := ix[f].AddEvent(ctx, index.Event{Kind: "test", Actor: fmt.Sprintf("fe%d", f), Detail: fmt.Sprintf("%d/%d", g, i)}); err != nil {
								errs <- err
							}
						}
					}()
				}
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("append: %v", err)
			}
			n, err := ix[0].VerifyEvents(ctx)
			if err != nil || n != 200 {
				t.Fatalf("chain of %d entries: %v", n, err)
			}
		})
	}
}

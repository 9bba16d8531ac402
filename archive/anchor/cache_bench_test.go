package anchor_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/spanvault/spanvault/archive/anchor"
	"github.com/spanvault/spanvault/archive/index/pgtest"
	"github.com/spanvault/spanvault/sync/wire"
)

// BenchmarkCheckpoint: the checkpoint a check-in's reply carries, on a
// log of 50,000 records in SQLite and in PostgreSQL (pgtest; skipped
// where it is not installed). before: the old path at every call (a
// COUNT, a statement per stored hash, twice, a signature); unchanged:
// the log did not grow since the last checkpoint (the cache); grown: a
// record appended (not timed) before each checkpoint, so every one is
// signed afresh.
func BenchmarkCheckpoint(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchCheckpoint(b, "") })
	b.Run("postgres", func(b *testing.B) { benchCheckpoint(b, pgtest.Start(b)) })
}

func benchCheckpoint(b *testing.B, path string) {
	l, _, _ := openLogAt(b, path)
	ctx := context.Background()
	const size = 50000
	var batch []anchor.Record
	for i := range size {
		batch = append(batch, anchor.Record{Appliance: "box-1", Seq: uint64(i + 1), Text: wire.AnchorText("box-1", uint64(i+1), fmt.Sprintf("%064x", i))})
		if len(batch) == 1000 {
			if _, err := l.AppendBatch(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	seq := uint64(size)
	grow := func(b *testing.B) {
		seq++
		if _, err := l.Append(ctx, "box-2", seq, wire.AnchorText("box-2", seq, fmt.Sprintf("%064x", seq))); err != nil {
			b.Fatal(err)
		}
	}
	for _, bc := range []struct {
		name string
		grow bool
		cp   func(context.Context) (int64, [32]byte, []byte, error)
	}{
		{"before/unchanged", false, func(ctx context.Context) (int64, [32]byte, []byte, error) { return l.CheckpointEachTime(ctx) }},
		{"after/unchanged", false, func(ctx context.Context) (int64, [32]byte, []byte, error) { return l.Checkpoint(ctx) }},
		{"before/grown", true, func(ctx context.Context) (int64, [32]byte, []byte, error) { return l.CheckpointEachTime(ctx) }},
		{"after/grown", true, func(ctx context.Context) (int64, [32]byte, []byte, error) { return l.Checkpoint(ctx) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if bc.grow {
					b.StopTimer()
					grow(b)
					b.StartTimer()
				}
				if _, _, _, err := bc.cp(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

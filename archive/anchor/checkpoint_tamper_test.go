package anchor_test

import (
	"context"
	"errors"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/spanvault/spanvault/archive/anchor"
	"github.com/spanvault/spanvault/archive/index/pgtest"
)

// An insider with write access to the index deletes one record
// of the log (a box's anchored audit head) in the middle. Before the
// cache, the size was a COUNT of the records and every checkpoint was
// refused (ErrInconsistent) from then on; with the cache's MAX(n)+1 the
// gap was not seen and a checkpoint was signed and served, even by a
// front-end whose cache was cold. The kept count (anchor_size) sees it.
func TestCheckpointRecordDeleted(t *testing.T) {
	onEngines(t, checkpointRecordDeleted)
}

func checkpointRecordDeleted(t *testing.T, path string) {
	l, ix, _ := openLogAt(t, path)
	ctx := context.Background()
	for _, h := range heads {
		if _, err := l.Append(ctx, "box-1", 1, h); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := ix.DB().ExecContext(ctx, `DELETE FROM anchor_records WHERE n = 1`); err != nil {
		t.Fatal(err)
	}
	for name, lg := range map[string]*anchor.Log{"the front-end that signed": l, "another front-end (cold cache)": reopen(t, l, ix)} {
		size, _, _, err := lg.Checkpoint(ctx)
		if !errors.Is(err, anchor.ErrInconsistent) {
			t.Errorf("%s: a log with record 1 deleted gave a checkpoint at size %d (err %v); want ErrInconsistent as before the cache", name, size, err)
		}
	}
}

// The log rewritten underneath (record 0 replaced, its stored
// hashes recomputed) keeps its size and last stored hash. Before the cache,
// the next checkpoint was refused; with it, the front-end that signed last
// served the old head while another front-end refused: the two disagreed,
// and a box that had verified that size already got no proof that could
// fail. A cache hit now recomputes the tree hash from the stored hashes.
func TestCheckpointRewrittenKeepsLast(t *testing.T) {
	onEngines(t, checkpointRewrittenKeepsLast)
}

func checkpointRewrittenKeepsLast(t *testing.T, path string) {
	l, ix, _ := openLogAt(t, path)
	ctx := context.Background()
	for _, h := range heads { // 3 records: stored hashes 0 leaf0, 1 leaf1, 2 node01, 3 leaf2
		if _, err := l.Append(ctx, "box-1", 1, h); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	forged := []byte("forged record\n")
	leaf0 := tlog.RecordHash(forged)
	var leaf1 []byte
	if err := ix.DB().QueryRowContext(ctx, `SELECT hash FROM anchor_hashes WHERE idx = 1`).Scan(&leaf1); err != nil {
		t.Fatal(err)
	}
	var l1 tlog.Hash
	copy(l1[:], leaf1)
	node := tlog.NodeHash(leaf0, l1)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`UPDATE anchor_records SET text = ? WHERE n = 0`, []any{forged}},
		{`UPDATE anchor_hashes SET hash = ? WHERE idx = 0`, []any{leaf0[:]}},
		{`UPDATE anchor_hashes SET hash = ? WHERE idx = 2`, []any{node[:]}},
	} {
		if _, err := ix.DB().ExecContext(ctx, q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	_, _, _, errOther := reopen(t, l, ix).Checkpoint(ctx)
	size, _, _, err := l.Checkpoint(ctx)
	if !errors.Is(err, anchor.ErrInconsistent) {
		t.Errorf("the front-end that signed last served a checkpoint at size %d of a rewritten log (err %v; another front-end: %v); want ErrInconsistent as before the cache", size, err, errOther)
	}
}

// onEngines runs test on a SQLite index and on a PostgreSQL one (pgtest;
// skipped where it is not installed): the count the log's size is read
// from is kept by each engine's own triggers.
func onEngines(t *testing.T, test func(t *testing.T, path string)) {
	t.Run("sqlite", func(t *testing.T) { test(t, "") })
	t.Run("postgres", func(t *testing.T) { test(t, pgtest.Start(t)) })
}

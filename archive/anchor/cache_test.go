package anchor_test

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/spanvault/spanvault/archive/anchor"
	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/sync/wire"
)

// TestCheckpointCached: every check-in's reply carries a checkpoint; at
// an unchanged log it is the one signed before, for one index statement
// (before: a COUNT over the log, a statement per stored hash of the tree
// hash, twice, the kept heads, an insert). A second front-end on the same
// index that appends makes the next checkpoint the new head, which
// extends the old one.
func TestCheckpointCached(t *testing.T) {
	l, ix, vk := openLog(t)
	ctx := context.Background()
	for i := range 21 {
		if _, err := l.Append(ctx, "box-1", uint64(i+1), wire.AnchorText("box-1", uint64(i+1), fmt.Sprintf("%064x", i))); err != nil {
			t.Fatal(err)
		}
	}
	size, hash, signed, err := l.Checkpoint(ctx)
	if err != nil || size != 21 {
		t.Fatalf("checkpoint: %d, %v", size, err)
	}
	var n atomic.Int64
	size2, hash2, signed2, err := l.Checkpoint(index.CountStatements(ctx, &n))
	if err != nil || size2 != size || hash2 != hash || !bytes.Equal(signed2, signed) {
		t.Fatalf("checkpoint again: %d %x, %v; want %d %x", size2, hash2, err, size, hash)
	}
	if n.Load() != 1 {
		t.Fatalf("a checkpoint of an unchanged log ran %d index statements, want 1", n.Load())
	}

	// The other front-end: its own Log on the same index and keys.
	other := reopen(t, l, ix)
	if _, err := other.Append(ctx, "box-2", 1, heads[2]); err != nil {
		t.Fatal(err)
	}
	size3, hash3, signed3, err := l.Checkpoint(ctx)
	if err != nil || size3 != size+1 {
		t.Fatalf("after the other front-end appended: size %d, %v; want %d", size3, err, size+1)
	}
	tree, err := anchor.VerifyCheckpoint(vk, signed3)
	if err != nil || tree.N != size3 || tree.Hash != hash3 {
		t.Fatalf("the new checkpoint: %+v, %v", tree, err)
	}
	p, err := l.ProveTree(ctx, size3, size)
	if err != nil {
		t.Fatal(err)
	}
	if err := tlog.CheckTree(p, size3, hash3, size, hash); err != nil {
		t.Fatalf("the new head does not extend the old: %v", err)
	}
	// A log cut back underneath is refused, not answered from the cache.
	if _, err := ix.DB().ExecContext(ctx, `DELETE FROM anchor_records WHERE n = ?`, size3-1); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := l.Checkpoint(ctx); err == nil {
		t.Fatal("a checkpoint was served for a truncated log")
	}
}

// reopen opens a second Log on l's index with the same keys, as another
// front-end does.
func reopen(t *testing.T, l *anchor.Log, ix *index.Index) *anchor.Log {
	t.Helper()
	o, err := anchor.Open(ix.DB(), keyFiles[l][0], keyFiles[l][1])
	if err != nil {
		t.Fatal(err)
	}
	return o
}

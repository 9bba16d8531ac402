package anchor_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/spanvault/spanvault/archive/anchor"
	"github.com/spanvault/spanvault/sync/wire"
)

// Checkpoints asked for at once on two front-ends while one of them
// appends: every one is signed, names a size no smaller than the one the
// asker saw before, and its hash is the log's tree hash at that size.
func TestCheckpointConcurrent(t *testing.T) {
	l, ix, vk := openLog(t)
	other := reopen(t, l, ix)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 40 {
			if _, err := other.Append(ctx, "box-2", uint64(i+1), wire.AnchorText("box-2", uint64(i+1), fmt.Sprintf("%064x", i))); err != nil {
				errs <- err
				return
			}
		}
	}()
	for _, lg := range []*anchor.Log{l, l, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var seen int64
			for range 40 {
				size, hash, signed, err := lg.Checkpoint(ctx)
				if err != nil {
					errs <- err
					return
				}
				tr, err := anchor.VerifyCheckpoint(vk, signed)
				if err != nil || tr.N != size || tr.Hash != hash || size < seen {
					errs <- fmt.Errorf("checkpoint %d %x: %+v, %v (seen %d)", size, hash, tr, err, seen)
					return
				}
				seen = size
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Every head kept is the tree hash of the records at its size.
	size, _, _, err := l.Checkpoint(ctx)
	if err != nil || size != 40 {
		t.Fatalf("the last checkpoint: size %d, %v; want 40", size, err)
	}
	c, err := l.CheckLog(ctx)
	if err != nil || len(c.Problems) != 0 || c.Signed != 40 {
		t.Fatalf("check: %v, %v, signed %d", err, c.Problems, c.Signed)
	}
}

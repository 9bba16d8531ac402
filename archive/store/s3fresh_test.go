package store_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/spanvault/spanvault/archive/store"
	"github.com/spanvault/spanvault/archive/store/s3test"
)

// TestS3FreshAfterEraseElsewhere (finding L1): front-end A has just
// published a recording (its fresh cache holds the header, the wrapped
// file key); front-end B crypto-shreds it on the same bucket. At once,
// within A's fresh window, A neither opens the erased header nor states
// that the recording is not erased.
func TestS3FreshAfterEraseElsewhere(t *testing.T) {
	cfg := s3test.Start(t)
	ctx := context.Background()
	a, err := store.OpenS3(ctx, cfg, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, err := store.OpenS3(ctx, cfg, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	id, _ := age.GenerateX25519Identity()
	data := sealedFile(t, id, bytes.Repeat([]byte("a recording "), 2000))
	s := sum(data)
	if in, _, err := a.AppendFor(ctx, "branch-1", s, 0, int64(len(data)), bytes.NewReader(data)); err != nil || !in.Complete {
		t.Fatalf("upload through A: %+v %v", in, err)
	}
	if err := b.Erase(ctx, s, time.Now()); err != nil {
		t.Fatalf("erasure through B: %v", err)
	}
	if rc, _, err := a.Open(ctx, s); !errors.Is(err, store.ErrErased) {
		var hdr []byte
		if err == nil {
			hdr, _ = io.ReadAll(io.LimitReader(rc, 64))
			rc.Close()
		}
		t.Errorf("A opens the recording B erased: %v (read %q)", err, hdr)
	}
	if in, err := a.Stat(ctx, s); err != nil || !in.Erased {
		t.Errorf("A states the recording B erased as %+v %v", in, err)
	}
}

package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/spanvault/spanvault/archive/store"
)

// TestS3ShredUnderCompliance: Shred (the archive's erasure when its index
// says no record keeps the object) removes the header of an object whose
// payload is COMPLIANCE-locked, where Erase refuses; the payload stays
// locked; a legal hold still refuses.
func TestS3ShredUnderCompliance(t *testing.T) {
	t.Parallel()
	st, cfg, raw := openS3(t)
	ctx := context.Background()
	id, _ := age.GenerateX25519Identity()
	until := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second)
	held := upload(t, st, sealedFile(t, id, []byte("a held recording")))
	if err := st.SetRetention(ctx, held, store.Retention{Until: until, Mode: store.Compliance, Hold: true}); err != nil {
		t.Fatal(err)
	}
	if err := st.Shred(ctx, held); !errors.Is(err, store.ErrHeld) {
		t.Fatalf("shred of a held object: %v", err)
	}
	s := upload(t, st, sealedFile(t, id, []byte("a recording its box claimed legal at upload")))
	if err := st.SetRetention(ctx, s, store.Retention{Until: until, Mode: store.Compliance}); err != nil {
		t.Fatal(err)
	}
	if err := st.Erase(ctx, s, time.Now()); !errors.Is(err, store.ErrLegal) {
		t.Fatalf("erase under COMPLIANCE: %v", err)
	}
	if err := st.Shred(ctx, s); err != nil {
		t.Fatalf("shred under COMPLIANCE: %v", err)
	}
	if _, _, err := st.Open(ctx, s); !errors.Is(err, store.ErrErased) {
		t.Fatalf("after the shred the recording opens: %v", err)
	}
	if n := len(versions(t, raw, cfg.Bucket, "header/"+s)); n != 0 {
		t.Fatalf("%d header versions left", n)
	}
	if in, err := st.Stat(ctx, s); err != nil || !in.Erased || in.LockMode != store.Compliance {
		t.Fatalf("after the shred: %+v %v; want erased, the payload still COMPLIANCE", in, err)
	}
	if err := st.Delete(ctx, s, time.Now()); !errors.Is(err, store.ErrRetained) {
		t.Fatalf("delete of the payload before its date: %v", err)
	}
}

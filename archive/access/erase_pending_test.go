package access_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/archive/store"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/sync/wire"
)

// TestErasedWhileStorePendingIsGone: someone with the bucket's write
// access puts a legal hold on a recording's header (the only copy of its
// key); the box's DPO erases the recording and the box
// syncs its erasure tombstone. The store cannot erase, yet the access
// service answers 410 for the recording at once. Before, the live
// erasure returned the store's error without a tombstone, and the
// recording played until the archive's next start.
func TestErasedWhileStorePendingIsGone(t *testing.T) {
	t.Setenv("SPANVAULT_TEST_STORE", "s3")
	e := newEnv(t, nil)
	ctx := context.Background()
	b := e.addBox("branch-1", synth.Config{Calls: 14, Concurrent: 4, Duration: 3 * time.Second, Start: e.clock.Now().Add(-time.Hour), Seed: 7})
	var victim *index.Record
	rs, err := e.a.Index.Records(ctx, index.Query{Appliance: "branch-1", Kind: wire.KindRecording})
	if err != nil || len(rs) == 0 {
		t.Fatalf("%d recordings archived: %v", len(rs), err)
	}
	for i := range rs {
		if rs[i].Class == "default" { // not under mifid's legal retention
			victim = &rs[i]
			break
		}
	}
	if victim == nil {
		t.Fatal("no recording of class default")
	}
	comp := e.signIn(e.addUser("comp", access.Compliance, "branch-1"))
	audio := "/api/v1/recordings/branch-1/" + victim.ID + "/audio"
	if resp, _ := comp.get(audio); resp.StatusCode != http.StatusOK {
		t.Fatalf("before the erasure: %d", resp.StatusCode)
	}
	sc, err := store.ParseS3URL(e.a.Config.Store)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := sc.Client()
	if err != nil {
		t.Fatal(err)
	}
	on := minio.LegalHoldEnabled
	if err := raw.PutObjectLegalHold(ctx, sc.Bucket, "header/"+victim.SHA256, minio.PutObjectLegalHoldOptions{Status: &on}); err != nil {
		t.Fatal(err)
	}
	defer raw.PutObjectLegalHold(ctx, sc.Bucket, "header/"+victim.SHA256, minio.PutObjectLegalHoldOptions{Status: new(minio.LegalHoldDisabled)})
	if err := b.v.Erase(victim.ID, "Art. 17 request", "dpo"); err != nil {
		t.Fatal(err)
	}
	e.sync(b)
	if resp, _ := comp.get(audio); resp.StatusCode != http.StatusGone {
		t.Errorf("after the box's erasure whose store erasure is pending, the recording answers %d, want 410", resp.StatusCode)
	}
}

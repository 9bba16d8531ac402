package client_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/sync/wire"
)

// TestLiveErasureStoreFailureTombstones: someone with write access to
// the bucket puts a legal hold on a recording's header; the box's DPO
// then erases the recording and the box syncs its erasure tombstone. The
// store cannot erase, yet the recording is unreachable at the archive at once: the
// index marks it erased (what the access service answers 410 for), the
// tombstone is acknowledged as an erasure, and the pending store erasure
// is alerted with its reason and tried again at the next start. Before,
// the live path returned the store's error: the tombstone was refused in
// its ack and the recording stayed readable until the next start.
func TestLiveErasureStoreFailureTombstones(t *testing.T) {
	t.Setenv("SPANVAULT_TEST_STORE", "s3")
	e := newEnv(t)
	ctx := context.Background()
	e.record(synth.Config{Calls: 2, Duration: time.Second, Start: e.clock.Now().Add(-time.Hour), Seed: 5})
	c := e.client()
	if err := e.pass(c); err != nil {
		t.Fatal(err)
	}
	e.checkAllArrived()
	es, _ := e.v.List()
	victim := es[0].ID
	sum := e.archiveRows()[victim+"/"+wire.KindRecording].SHA256
	sc, raw := e.bucket(t)
	// An insider's legal hold on the archive's header: no erasure can
	// remove it (a locked version of their own on the payload no longer
	// stops one: the archive's header versions are removed by ID,
	// store.TestS3ForeignLockedVersionDoesNotBlockShred).
	on := minio.LegalHoldEnabled
	if err := raw.PutObjectLegalHold(ctx, sc.Bucket, "header/"+sum, minio.PutObjectLegalHoldOptions{Status: &on}); err != nil {
		t.Fatal(err)
	}
	defer raw.PutObjectLegalHold(ctx, sc.Bucket, "header/"+sum, minio.PutObjectLegalHoldOptions{Status: new(minio.LegalHoldDisabled)})
	if err := e.v.Erase(victim, "Art. 17 request", "dpo"); err != nil {
		t.Fatal(err)
	}
	if err := e.pass(c); err != nil {
		t.Fatal(err)
	}
	rows := e.archiveRows()
	if r := rows[victim+"/"+wire.KindRecording]; r.DeletedAt.IsZero() {
		t.Errorf("the store's erasure failed and the recording is still live in the index (the access service serves it)")
	}
	if ts, ok := rows[victim+"/"+wire.KindTombstone]; !ok || ts.Tombstone != index.TombstoneErased {
		t.Errorf("the erasure's tombstone at the archive: %q (present %v), want %q", ts.Tombstone, ok, index.TombstoneErased)
	}
	if ts, _ := e.v.PendingTombstones(); len(ts) != 0 {
		t.Errorf("%d tombstones not acknowledged", len(ts))
	}
	if pend := e.alerts(t, "erasure_pending"); len(pend) != 1 || !strings.Contains(pend[0], "header/"+sum) {
		t.Errorf("want one alert of the pending store erasure with its reason, got %q", pend)
	}
	// The next start tries the store's erasure again (the replay).
	e.stopArchive()
	e.startArchive()
	if pend := e.alerts(t, "erasure_replay_pending"); len(pend) != 1 {
		t.Errorf("the next start did not try the pending store erasure again: %q", pend)
	}
	if r := e.archiveRows()[victim+"/"+wire.KindRecording]; r.DeletedAt.IsZero() {
		t.Errorf("after a restart the recording is live again")
	}
}

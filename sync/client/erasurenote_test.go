package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/index/pgtest"
	"github.com/spanvault/spanvault/archive/store"
	"github.com/spanvault/spanvault/sync/client"
	"github.com/spanvault/spanvault/sync/wire"
)

// bothStores runs f against the directory backend and against S3
// (versitygw with Object Lock).
func bothStores(t *testing.T, f func(t *testing.T)) {
	for _, st := range []string{"dir", "s3"} {
		t.Run(st, func(t *testing.T) {
			t.Setenv("SPANVAULT_TEST_STORE", strings.TrimPrefix(st, "dir"))
			f(t)
		})
	}
}

// forgeNote writes an erasure note the way someone with write access to
// the store (not to the archive's keys) would: erasures/<sum> in the
// bucket with minio-go, COMPLIANCE-locked so that nobody removes it, or
// erasures/<sum>.json in the store directory.
func (e *env) forgeNote(t *testing.T, n store.Erasure) {
	t.Helper()
	b, _ := json.Marshal(n)
	e.forgeNoteBytes(t, n.SHA256, b)
}

// forgeNoteBytes writes b as the erasure note of sum (forgeNote).
func (e *env) forgeNoteBytes(t *testing.T, sum string, b []byte) {
	t.Helper()
	if os.Getenv("SPANVAULT_TEST_STORE") != "s3" {
		if err := os.WriteFile(filepath.Join(e.dir, "store", "erasures", sum+".json"), b, 0o600); err != nil {
			t.Fatal(err)
		}
		return
	}
	sc, raw := e.bucket(t)
	if _, err := raw.PutObject(context.Background(), sc.Bucket, "erasures/"+sum, bytes.NewReader(b), int64(len(b)),
		minio.PutObjectOptions{ContentType: "application/json", DisableMultipart: true, Mode: minio.Compliance,
			RetainUntilDate: time.Now().Add(time.Hour).UTC().Truncate(time.Second)}); err != nil {
		t.Fatal(err)
	}
}

// TestForgedErasureNoteIsNotApplied: someone with write access to the
// bucket writes an erasure note naming a real recording (its appliance,
// id and address are no secret to whoever sees the bucket and a box's
// records). The archive's next start does not erase the recording: the
// note bears no signature of the archive's erasure key. It is alerted
// once, and the recording stays served. Before, the replay trusted any
// note it found and crypto-shredded the recording.
func TestForgedErasureNoteIsNotApplied(t *testing.T) {
	bothStores(t, func(t *testing.T) {
		e := newEnv(t)
		en, _ := e.syncedRecording(t)
		e.stopArchive()
		e.forgeNote(t, store.Erasure{SHA256: en.SHA256, Appliance: e.box, ID: en.ID, At: e.clock.Now(), By: "dpo"})
		e.startArchive()
		if r := e.archiveRows()[en.ID+"/recording"]; !r.DeletedAt.IsZero() {
			t.Errorf("a forged erasure note erased %s at the archive's start", en.ID)
		}
		if _, err := e.archiveCopy(en.ID); err != nil {
			t.Errorf("the recording no longer reads after a forged erasure note: %v", err)
		}
		if a := e.alerts(t, "erasure_note_unverified"); len(a) != 1 || !strings.Contains(a[0], en.SHA256) {
			t.Errorf("want one alert of the note that does not verify, got %q", a)
		}
	})
}

// TestUnreadableErasureNoteDoesNotStopOpen: a note that is not JSON at
// all, written by someone with write access to the store, is alerted and
// the archive starts. Before, archive.Open failed on it.
func TestUnreadableErasureNoteDoesNotStopOpen(t *testing.T) {
	bothStores(t, func(t *testing.T) {
		e := newEnv(t)
		en, _ := e.syncedRecording(t)
		e.stopArchive()
		e.forgeNoteBytes(t, en.SHA256, []byte("not a note"))
		a, err := archive.Open(e.dir)
		if err != nil {
			t.Fatalf("archive.Open failed on one unreadable erasure note: %v", err)
		}
		e.arch = a
		defer a.Close()
		if _, err := e.archiveCopy(en.ID); err != nil {
			t.Errorf("the recording no longer reads: %v", err)
		}
		if al := e.alerts(t, "erasure_note_unverified"); len(al) != 1 || !strings.Contains(al[0], "unreadable") {
			t.Errorf("want one alert of the unreadable note, got %q", al)
		}
	})
}

// TestErasureReplayHonoursHold: a recording on legal hold when the
// index's backup was taken, then released and erased; the backup is
// restored. The replay of the (genuine) note meets a recording the
// restored index holds: it is refused and alerted exactly as a live
// erasure of a held recording is, not applied.
func TestErasureReplayHonoursHold(t *testing.T) {
	bothStores(t, func(t *testing.T) {
		e := newEnv(t)
		ctx := context.Background()
		en, _ := e.syncedRecording(t)
		if _, err := e.arch.Command(ctx, e.box, wire.CmdHold, en.ID, false, "litigation", "legal"); err != nil {
			t.Fatal(err)
		}
		restore := e.backupIndex(t)
		if _, err := e.arch.Command(ctx, e.box, wire.CmdRelease, en.ID, false, "litigation over", "legal"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.arch.Command(ctx, e.box, wire.CmdErase, en.ID, false, "Art. 17 request", "dpo"); err != nil {
			t.Fatal(err)
		}
		if err := e.client().Pass(ctx, client.Options{}); err != nil {
			t.Fatal(err)
		}
		if r := e.archiveRows()[en.ID+"/recording"]; r.DeletedAt.IsZero() {
			t.Fatal("the live erasure did not reach the archive")
		}
		restore()
		if r := e.archiveRows()[en.ID+"/recording"]; !r.DeletedAt.IsZero() || !r.Hold {
			t.Errorf("the replay erased a recording the restored index holds (deleted %v, hold %v)", r.DeletedAt, r.Hold)
		}
		if a := e.alerts(t, "erasure_replay_refused"); len(a) != 1 || !strings.Contains(a[0], "legal hold") {
			t.Errorf("want one alert of the refused replay, got %q", a)
		}
	})
}

// backupIndex copies the stopped archive's index and restarts it; the
// function returned stops the archive, restores the copy and starts it
// again.
func (e *env) backupIndex(t *testing.T) func() {
	e.stopArchive()
	indexCfg := e.arch.Config.Index
	pg := strings.HasPrefix(indexCfg, "postgres://")
	path := filepath.Join(e.dir, indexCfg)
	backup := filepath.Join(t.TempDir(), "index.backup")
	var b []byte
	if pg {
		pgtest.Dump(t, indexCfg, backup)
	} else {
		var err error
		if b, err = os.ReadFile(path); err != nil {
			t.Fatal(err)
		}
	}
	e.startArchive()
	return func() {
		e.stopArchive()
		if pg {
			pgtest.Restore(t, indexCfg, backup)
		} else {
			for _, suffix := range []string{"-wal", "-shm"} {
				os.Remove(path + suffix)
			}
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		e.startArchive()
	}
}

// TestErasureReplayFailureDoesNotStopOpen: someone with write access to
// the bucket puts a legal hold on a recording's header (the archive's
// index holds nothing); the DPO's erasure is noted, but the store cannot
// remove the header. The archive's next start does not fail on that note:
// the recording is made unreachable in the index (a tombstone, nothing
// served), the erasure left pending in the store is alerted with the
// reason, and tried again at every start. Before, archive.Open failed
// and the whole archive stayed down.
func TestErasureReplayFailureDoesNotStopOpen(t *testing.T) {
	t.Setenv("SPANVAULT_TEST_STORE", "s3")
	e := newEnv(t)
	ctx := context.Background()
	en, _ := e.syncedRecording(t)
	sc, raw := e.bucket(t)
	on := minio.LegalHoldEnabled
	if err := raw.PutObjectLegalHold(ctx, sc.Bucket, "header/"+en.SHA256, minio.PutObjectLegalHoldOptions{Status: &on}); err != nil {
		t.Fatal(err)
	}
	defer raw.PutObjectLegalHold(ctx, sc.Bucket, "header/"+en.SHA256, minio.PutObjectLegalHoldOptions{Status: new(minio.LegalHoldDisabled)})
	if _, err := e.arch.Command(ctx, e.box, wire.CmdErase, en.ID, false, "Art. 17 request", "dpo"); err != nil {
		t.Fatal(err)
	}
	_ = e.client().Pass(ctx, client.Options{}) // the store's erasure fails: noted, unreachable, pending
	e.stopArchive()
	for start := 1; start <= 2; start++ {
		a, err := archive.Open(e.dir)
		if err != nil {
			t.Fatalf("start %d: archive.Open failed on one erasure note: %v", start, err)
		}
		a.Now = e.clock.Now
		e.arch = a
		rows := e.archiveRows()
		if r := rows[en.ID+"/recording"]; r.DeletedAt.IsZero() {
			t.Errorf("start %d: the recording whose erasure is pending is still live in the index", start)
		}
		if _, ok := rows[en.ID+"/tombstone"]; !ok {
			t.Errorf("start %d: no tombstone for the recording whose erasure is pending", start)
		}
		if pend := e.alerts(t, "erasure_replay_pending"); len(pend) != start || !strings.Contains(pend[start-1], "header/"+en.SHA256) {
			t.Errorf("start %d: want %d alerts of the pending erasure with the reason, got %q", start, start, pend)
		}
		a.Close()
	}
}

// TestForgedNoteBeforeErasure: someone with write access to the bucket
// writes a note for a recording before the DPO erases it. The archive's
// own (signed) note is kept beside it all the same: after an index
// restored from a backup taken before the erasure, the replay erases the
// recording again, and the forged note is alerted. Before, the
// create-only PUT's PreconditionFailed was taken for "noted already":
// the archive's note was never written, and the restored index served
// the recording as live.
func TestForgedNoteBeforeErasure(t *testing.T) {
	bothStores(t, func(t *testing.T) {
		e := newEnv(t)
		ctx := context.Background()
		en, _ := e.syncedRecording(t)
		e.forgeNote(t, store.Erasure{SHA256: en.SHA256, Appliance: e.box, ID: en.ID, At: e.clock.Now(), By: "nobody"})
		restore := e.backupIndex(t)
		if _, err := e.arch.Command(ctx, e.box, wire.CmdErase, en.ID, false, "Art. 17 request", "dpo"); err != nil {
			t.Fatal(err)
		}
		if err := e.client().Pass(ctx, client.Options{}); err != nil {
			t.Fatal(err)
		}
		restore()
		if r := e.archiveRows()[en.ID+"/recording"]; r.DeletedAt.IsZero() {
			t.Errorf("the restored index serves the erased recording: the archive's erasure note was not kept")
		}
		if !e.hasEvent("erasure_replayed", en.ID) {
			t.Errorf("the erasure was not replayed")
		}
		if os.Getenv("SPANVAULT_TEST_STORE") == "s3" && len(e.alerts(t, "erasure_note_unverified")) == 0 {
			t.Errorf("the forged note beside the archive's was not alerted")
		}
	})
}

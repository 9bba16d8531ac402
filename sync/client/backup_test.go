package client_test

import (
	"context"
	"testing"
	"time"

	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/sync/client"
	"github.com/spanvault/spanvault/sync/wire"
)

// TestBackupRestoreKeepsErasure (scale issue, acceptance 4): back up the
// archive's index, erase a recording, restore the backup: the erasure is
// replayed from the store's erasure notes before anything is served, so
// the recording stays erased in the index and unreadable in the store.
func TestBackupRestoreKeepsErasure(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.record(synth.Config{Calls: 3, Duration: time.Second, Start: e.clock.Now().Add(-time.Hour)})
	c := e.client()
	if _, err := e.arch.Command(ctx, e.box, wire.CmdPull, "", true, "backup test", "alice"); err != nil {
		t.Fatal(err)
	}
	if err := c.Pass(ctx, client.Options{}); err != nil {
		t.Fatal(err)
	}
	e.checkAllArrived()
	rows := e.archiveRows()

	// The backup, taken while the archive is stopped: the SQLite file, or
	// pg_dump of the PostgreSQL database.
	restore := e.backupIndex(t)

	es, _ := e.v.List()
	victim := es[0].ID
	if _, err := e.arch.Command(ctx, e.box, wire.CmdErase, victim, false, "Art. 17 request", "dpo"); err != nil {
		t.Fatal(err)
	}
	if err := c.Pass(ctx, client.Options{}); err != nil {
		t.Fatal(err)
	}
	sum := rows[victim+"/recording"].SHA256
	if _, _, err := e.arch.Store.Open(ctx, sum); err == nil {
		t.Fatal("the archive still serves the erased recording")
	}

	// Restore the backup over the index; the archive opens it again.
	restore()
	after := e.archiveRows()
	if r := after[victim+"/recording"]; r.DeletedAt.IsZero() {
		t.Fatal("the restored index shows the erased recording as held")
	}
	if _, ok := after[victim+"/tombstone"]; !ok {
		t.Fatal("no tombstone for the erased recording after the restore")
	}
	if _, _, err := e.arch.Store.Open(ctx, sum); err == nil {
		t.Fatal("the erased recording is readable after the restore")
	}
	if !e.hasEvent("erasure_replayed", victim) {
		t.Fatal("the replay was not audited")
	}
	// The others are untouched.
	for _, en := range es[1:] {
		r := after[en.ID+"/recording"]
		if !r.DeletedAt.IsZero() {
			t.Fatalf("%s erased by the replay", en.ID)
		}
		if rc, _, err := e.arch.Store.Open(ctx, r.SHA256); err != nil {
			t.Fatalf("%s unreadable after the restore: %v", en.ID, err)
		} else {
			rc.Close()
		}
	}
}

package appliance

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive"
)

// TestUpdateFailedKeptAcrossRestart: an update whose root failed its hash
// is not downloaded again after the daemon restarts, when the operator
// rolls the same serial out again: the failed list is on /perm
// (update.dir). (Old code: it was in memory; the restarted daemon
// downloaded the bad update again.)
func TestUpdateFailedKeptAcrossRestart(t *testing.T) {
	e := newUpdEnv(t)
	a := e.start(7, "")
	bad := append([]byte(nil), e.root...)
	bad[len(bad)/2] ^= 0xff
	e.offer()
	if err := os.WriteFile(filepath.Join(e.arch.Dir, "updates", "8", archive.UpdateRootFile), bad, 0o600); err != nil {
		t.Fatal(err)
	}
	e.pass(a, true)
	e.pass(a, false)
	if e.rebootRequested(a) {
		t.Fatal("a root with another hash was installed")
	}
	a = e.start(7, "") // the daemon restarts
	r, err := e.arch.Roll(context.Background(), archive.RollOptions{Serial: 8, Target: "box:branch-upd", ConfirmWithin: 20 * time.Minute, By: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	e.rollout = r.ID
	served := len(e.reqs.Lines())
	e.pass(a, true)
	e.pass(a, true)
	if got := e.reqs.Lines(); len(got) != served {
		t.Fatalf("the bad update was downloaded again after a restart: %q", got[served:])
	}
	if fi, err := os.Stat(filepath.Join(e.dir, "update", failedFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("failed list: %v %v", fi, err)
	}
}

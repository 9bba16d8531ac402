package access

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/index/pgtest"
)

// bootstrapService opens a new archive without accounts (its index in
// PostgreSQL when SPANVAULT_TEST_INDEX=postgres) for the bootstrap's
// slot tests, which write interleavings out step by step.
func bootstrapService(t *testing.T) *Service {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "archive")
	opt := archive.InitOptions{Name: "boot", Listen: "127.0.0.1:0"}
	if os.Getenv("SPANVAULT_TEST_INDEX") == "postgres" {
		opt.Index = pgtest.Start(t)
	}
	if err := archive.Init(dir, opt); err != nil {
		t.Fatal(err)
	}
	a, err := archive.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	s := New(a, nil)
	s.cfg.PublicURL = "https://archive.example"
	return s
}

// TestBootstrapSameNameRace: two bootstraps of the same name at once (an
// operator's command run twice, two terminals) both pass BootstrapAdmin's
// "user exists" check. Both took a slot under that name; one AddUser
// won, the other failed, and freeBootstrapSlot gave nothing back (a user
// of that name existed): the archive was left with one admin and no
// slot, and the second admin, whom every later account needs, could
// never be added. Now the second racer is refused its slot (one per
// name), and a slot whose addition failed is given back by its number.
// (Review C; the interleaving is written out step by step.)
func TestBootstrapSameNameRace(t *testing.T) {
	s := bootstrapService(t)
	ctx := context.Background()
	// Both racers passed getUser("root") (nil); both try to take a slot.
	var slots []int
	for range 2 {
		n, err := s.takeBootstrapSlot(ctx, "root")
		if err != nil {
			t.Logf("refused: %v", err) // this racer adds nobody
			continue
		}
		slots = append(slots, n)
	}
	if len(slots) != 1 || slots[0] != 1 {
		t.Fatalf("root's slots: %v, want [1]", slots)
	}
	// The first racer's AddUser succeeds; a second's would fail, and
	// its slot, had it one, goes back.
	if _, err := AddUser(ctx, s.db(), s.now(), "root", Admin, nil, s.Keys); err != nil {
		t.Fatal(err)
	}
	_, aerr := AddUser(ctx, s.db(), s.now(), "root", Admin, nil, s.Keys)
	if aerr == nil {
		t.Fatal("second AddUser of root succeeded")
	}
	for _, n := range slots[1:] {
		if err := errors.Join(aerr, s.freeBootstrapSlot(ctx, n, "root")); err == nil {
			t.Fatal("no error")
		}
	}
	if _, err := s.BootstrapAdmin(ctx, "second"); err != nil {
		t.Fatalf("the archive has one admin (root) and one bootstrap done, but the second admin's bootstrap is refused: %v", err)
	}
	// And the command run twice once more: refused, root keeps its slot.
	if _, err := s.BootstrapAdmin(ctx, "root"); err == nil {
		t.Fatal("root bootstrapped twice")
	}
	if _, err := s.BootstrapAdmin(ctx, "third"); !errors.Is(err, errHasAdmins) {
		t.Fatalf("a third bootstrap: %v, want %v", err, errHasAdmins)
	}
}

// TestBootstrapSlotReused: the first bootstrap's addition fails after it
// took slot 1 while the second's succeeds in slot 2; slot 1 is given back,
// and the next bootstrap takes it (the lowest free slot, not MAX+1 = 3,
// which the CHECK refuses for good).
func TestBootstrapSlotReused(t *testing.T) {
	s := bootstrapService(t)
	ctx := context.Background()
	first, err := s.takeBootstrapSlot(ctx, "first")
	if err != nil || first != 1 {
		t.Fatalf("first's slot: %d %v", first, err)
	}
	if _, err := s.BootstrapAdmin(ctx, "root"); err != nil {
		t.Fatal(err)
	}
	// first's AddUser failed: its slot goes back.
	if err := s.freeBootstrapSlot(ctx, first, "first"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.BootstrapAdmin(ctx, "second"); err != nil {
		t.Fatalf("the archive has one admin (root, slot 2) and slot 1 free, but the second admin's bootstrap is refused: %v", err)
	}
	if _, err := s.BootstrapAdmin(ctx, "third"); !errors.Is(err, errHasAdmins) {
		t.Fatalf("a third bootstrap: %v, want %v", err, errHasAdmins)
	}
}

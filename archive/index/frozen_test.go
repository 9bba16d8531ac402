package index_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/spanvault/spanvault/archive/index"
)

// TestFrozenIndexMigrates: testdata/frozen-v0/index.db is an archive
// index written by `make demo` at commit 8e9f5fd (2026-12-06), before the
// schema had versions (version 0), plus one user. Today's code migrates a
// copy to the newest version and reads everything in it.
func TestFrozenIndexMigrates(t *testing.T) {
	ctx := context.Background()
	b, err := os.ReadFile("testdata/frozen-v0/index.db")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "index.db")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	x, err := index.Open(path)
	if err != nil {
		t.Fatalf("open the frozen index: %v", err)
	}
	defer x.Close()
	if v, err := x.Version(ctx); err != nil || v != index.SchemaVersion() {
		t.Fatalf("migrated to version %d (%v), want %d", v, err, index.SchemaVersion())
	}
	ap, err := x.Appliance(ctx, "branch-demo")
	if err != nil {
		t.Fatal(err)
	}
	if ap.AnchoredSeq == 0 || len(ap.AuditKey) != 32 {
		t.Fatalf("appliance lost its anchored chain or audit key: %+v", ap)
	}
	rs, err := x.Records(ctx, index.Query{Appliance: "branch-demo"})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, r := range rs {
		kinds[r.Kind]++
		if r.Kind == "recording" && (len(r.SHA256) != 64 || r.Size == 0 || len(r.Sealed) == 0) {
			t.Errorf("recording %s read back incomplete: %+v", r.ID, r)
		}
	}
	if kinds["recording"] != 3 || kinds["cdr"] != 1 {
		t.Fatalf("records by kind %v, want 3 recordings and 1 cdr", kinds)
	}
	if n, err := x.VerifyEvents(ctx); err != nil || n == 0 {
		t.Fatalf("the frozen trail: %d entries, %v", n, err)
	}
	var users int
	if err := x.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE name = 'alice'`).Scan(&users); err != nil || users != 1 {
		t.Fatalf("user alice: %d (%v)", users, err)
	}
}

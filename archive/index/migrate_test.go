package index

import (
	"context"
	"path/filepath"
	"testing"
)

func TestMigrationsApplyOnceAndRefuseNewer(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "index.db")
	x, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := x.Version(ctx); err != nil || v != SchemaVersion() {
		t.Fatalf("version %d (%v), want %d", v, err, SchemaVersion())
	}
	x.Close()
	// Reopening applies nothing twice.
	x, err = Open(path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	// An index from a newer archive is refused, not written.
	if _, err := x.DB().ExecContext(ctx, `INSERT INTO schema_version (version, name, applied_at) VALUES (?, 'from the future', '')`, SchemaVersion()+100); err != nil {
		t.Fatal(err)
	}
	x.Close()
	if _, err := Open(path); err == nil {
		t.Fatal("an index of a newer schema version opened")
	}
}

package index

import (
	"context"
	"path/filepath"
	"testing"
)

// An index written before migration 24 holds records and no kept count:
// the migration counts them, and from then on the triggers keep the count
// with every record inserted or deleted, whoever writes it.
func TestMigrationAnchorSize(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "index.db")
	x, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	db := x.DB()
	add := func(n int) {
		t.Helper()
		if _, err := db.ExecContext(ctx, `INSERT INTO anchor_records (n, appliance, seq, text) VALUES (?, 'box', ?, 'text')`, n, n+1); err != nil {
			t.Fatal(err)
		}
	}
	size := func(want int64) {
		t.Helper()
		var n int64
		if err := db.QueryRowContext(ctx, `SELECT n FROM anchor_size WHERE id = 0`).Scan(&n); err != nil || n != want {
			t.Fatalf("anchor_size %d (%v), want %d", n, err, want)
		}
	}
	add(0)
	size(1)
	// As an index before version 24 was: no count, no triggers.
	for _, q := range []string{
		`DROP TRIGGER anchor_records_added`,
		`DROP TRIGGER anchor_records_removed`,
		`DROP TABLE anchor_size`,
		`DELETE FROM schema_version WHERE version = 24`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	add(1)
	add(2)
	x.Close()
	if x, err = Open(path); err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	db = x.DB()
	size(3)
	add(3)
	size(4)
	if _, err := db.ExecContext(ctx, `DELETE FROM anchor_records WHERE n = 1`); err != nil {
		t.Fatal(err)
	}
	size(3)
}

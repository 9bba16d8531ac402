package index

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// The schema is versioned. Version 0 is the baseline (schema and
// accessSchema, created with IF NOT EXISTS, as every index before
// versioning had it); each later change is a migration with the next
// number, registered by the file that needs it (register, from an init
// function) and applied once, in order, in one transaction per
// migration, recorded in schema_version. Every registered migration the
// index has not recorded runs, also one numbered below the newest it has.
// An index written by a newer archive (a version this code does not know)
// is refused rather than written by older code.
//
// Migrations are written in SQLite's dialect like the baseline; for
// PostgreSQL the same type replacements as pgSchema apply. ALTER TABLE
// ... ADD COLUMN with a constant default, CREATE TABLE and CREATE INDEX
// run on both engines.
type migration struct {
	version int
	name    string
	sql     string
	// stmts, when set, gives the statements for each engine, run as
	// given (not split at ';': trigger bodies; registerStatements).
	stmts func(pg bool) []string
}

var migrations []migration

// register adds a migration. Versions are unique; the order of init
// functions does not matter.
func register(version int, name, sql string) {
	for _, m := range migrations {
		if m.version == version {
			panic(fmt.Sprintf("index: migration %d registered twice (%s, %s)", version, m.name, name))
		}
	}
	migrations = append(migrations, migration{version: version, name: name, sql: sql})
	sort.Slice(migrations, func(i, j int) bool { return migrations[i].version < migrations[j].version })
}

// SchemaVersion is the newest schema version this code writes.
func SchemaVersion() int {
	if len(migrations) == 0 {
		return 0
	}
	return migrations[len(migrations)-1].version
}

const versionTable = `CREATE TABLE IF NOT EXISTS schema_version (
	version INTEGER PRIMARY KEY,
	name TEXT NOT NULL,
	applied_at TEXT NOT NULL
)`

// migrate brings an open index (baseline applied) up to SchemaVersion.
// On PostgreSQL the caller holds the schema's advisory lock for the
// whole of it (openPostgres), so that two front-ends starting together
// apply each migration once.
func (x *Index) migrate(ctx context.Context) error {
	if _, err := x.db.ExecContext(ctx, x.dialect(versionTable)); err != nil {
		return fmt.Errorf("index: schema_version: %w", err)
	}
	applied := map[int]bool{}
	rows, err := x.db.QueryContext(ctx, `SELECT version FROM schema_version`)
	if err != nil {
		return fmt.Errorf("index: schema_version: %w", err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return fmt.Errorf("index: schema_version: %w", err)
		}
		applied[v] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("index: schema_version: %w", err)
	}
	for v := range applied {
		if !known(v) {
			return fmt.Errorf("index: schema version %d is not one this archive knows (newest %d): upgrade the archive before opening this index", v, SchemaVersion())
		}
	}
	// Every registered migration not yet applied runs, in order: one
	// missing below the newest applied (a branch merged later) runs too.
	for _, m := range migrations {
		if applied[m.version] {
			continue
		}
		if err := x.apply(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

func known(v int) bool {
	for _, m := range migrations {
		if m.version == v {
			return true
		}
	}
	return false
}

func (x *Index) apply(ctx context.Context, m migration) error {
	tx, err := x.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := tx.Serialize(ctx, LockSchema); err != nil {
		return err
	}
	var done int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_version WHERE version = ?`, m.version).Scan(&done); err != nil {
		return err
	}
	if done > 0 {
		return nil // another front-end applied it meanwhile
	}
	stmts := strings.Split(x.dialect(m.sql), ";")
	if m.stmts != nil {
		stmts = m.stmts(x.db.pg)
	}
	for _, stmt := range stmts {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("index: migration %d (%s): %w in %.60s", m.version, m.name, err, strings.TrimSpace(stmt))
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)`, m.version, m.name, ts(time.Now())); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("index: migration %d (%s): %w", m.version, m.name, err)
	}
	return nil
}

// dialect rewrites SQLite DDL for the engine in use.
func (x *Index) dialect(s string) string {
	if x.db.pg {
		return pgTypes.Replace(s)
	}
	return s
}

// Version reports the index's schema version.
func (x *Index) Version(ctx context.Context) (int, error) {
	var v int
	err := x.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v)
	return v, err
}

package index

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/spanvault/spanvault/archive/index/pgtest"
)

// onOldIndex runs test on each engine, SQLite and PostgreSQL (pgtest),
// with a database made at the baseline schema, as an index written
// before the migrations: old is that database, opened directly (test
// closes it before it opens where with Open).
func onOldIndex(t *testing.T, test func(t *testing.T, engine string, old *sql.DB, where string)) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			var where, driver, ddl string
			if engine == "sqlite" {
				where, driver, ddl = filepath.Join(t.TempDir(), "index.db"), "sqlite", schema+accessSchema
			} else {
				where, driver, ddl = pgtest.Start(t), "pgx", pgSchema
			}
			dsn := where
			if engine == "sqlite" {
				dsn = "file:" + uriPath(where)
			}
			old, err := sql.Open(driver, dsn)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := old.Exec(ddl); err != nil {
				t.Fatal(err)
			}
			test(t, engine, old, where)
		})
	}
}

package index

// anchor_size keeps the number of records of the anchor log, changed by
// triggers in the statement that inserts or deletes a record (so in the
// same transaction as every append, and also when a record is deleted
// underneath the archive). Package anchor reads it with MIN(n) and MAX(n)
// (primary-key lookups) instead of a COUNT over the records: records are
// numbered from 0 without gaps, so a log whose count is not MAX(n)+1, or
// whose first record is not 0, had a record deleted or renumbered.
func init() {
	registerStatements(24, "anchor log size kept by triggers", func(pg bool) []string {
		table := []string{
			`CREATE TABLE IF NOT EXISTS anchor_size (
	id INTEGER PRIMARY KEY CHECK (id = 0),
	n INTEGER NOT NULL
)`,
			`INSERT INTO anchor_size (id, n) SELECT 0, COUNT(*) FROM anchor_records`,
		}
		if pg {
			return append([]string{pgTypes.Replace(table[0]), table[1]},
				`CREATE OR REPLACE FUNCTION anchor_size_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'INSERT' THEN
		UPDATE anchor_size SET n = n + 1 WHERE id = 0;
	ELSE
		UPDATE anchor_size SET n = n - 1 WHERE id = 0;
	END IF;
	RETURN NULL;
END
$$`,
				`CREATE TRIGGER anchor_records_size AFTER INSERT OR DELETE ON anchor_records FOR EACH ROW EXECUTE FUNCTION anchor_size_keep()`)
		}
		return append(table,
			`CREATE TRIGGER IF NOT EXISTS anchor_records_added AFTER INSERT ON anchor_records BEGIN
	UPDATE anchor_size SET n = n + 1 WHERE id = 0;
END`,
			`CREATE TRIGGER IF NOT EXISTS anchor_records_removed AFTER DELETE ON anchor_records BEGIN
	UPDATE anchor_size SET n = n - 1 WHERE id = 0;
END`)
	})
}

// registerStatements registers a migration whose statements differ by
// engine or hold a ';' of their own (a trigger's body).
func registerStatements(version int, name string, stmts func(pg bool) []string) {
	register(version, name, "")
	for i := range migrations {
		if migrations[i].version == version {
			migrations[i].stmts = stmts
		}
	}
}

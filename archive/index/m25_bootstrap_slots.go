package index

// Migration 25: the bootstrap's two slots. The command line adds the
// first two administrators of an archive without anyone's credentials
// (access.BootstrapAdmin); each takes a slot here first, in one
// statement, and a slot is only given back when its own addition failed:
// the primary key and the CHECK make a third bootstrap, or two at once
// for one slot, fail in the database. An archive that has accounts when
// it is migrated has both slots taken (by no name, the empty string): it
// never bootstraps, however few admins it has.
func init() {
	register(25, "bootstrap slots", `
CREATE TABLE bootstrap_slots (
	slot INTEGER PRIMARY KEY CHECK (slot IN (1, 2)),
	name TEXT NOT NULL,
	taken_at TEXT NOT NULL
);
INSERT INTO bootstrap_slots (slot, name, taken_at) SELECT 1, '', '' WHERE EXISTS (SELECT 1 FROM users);
INSERT INTO bootstrap_slots (slot, name, taken_at) SELECT 2, '', '' WHERE EXISTS (SELECT 1 FROM users)
`)
}

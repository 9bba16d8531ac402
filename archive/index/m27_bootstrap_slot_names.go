package index

// Migration 27: a bootstrap slot's name is unique. Two bootstraps of
// one name at once (a command run twice) each took a slot under that
// name; one addition won, the other's slot could not be told apart and
// stayed taken, and the archive kept one admin for good. Now the second
// slot of a name is refused by the database (the empty name of slots
// taken by migration 25 on an archive with accounts excepted). An index
// that already holds a name twice keeps that name's lowest slot: only
// one user of the name exists, so the other's addition failed and its
// slot is given back.
func init() {
	register(27, "bootstrap slot names", `
DELETE FROM bootstrap_slots WHERE name <> '' AND slot > (SELECT MIN(b.slot) FROM bootstrap_slots b WHERE b.name = bootstrap_slots.name);
CREATE UNIQUE INDEX bootstrap_slots_name ON bootstrap_slots (name) WHERE name <> ''
`)
}

package index

func init() {
	// The search page's class picker lists the classes in the reader's
	// branches: one index seek per class (access/search_page.go).
	// search_settings remembers the configuration the blind index was
	// built with (access.extensions), so that a change re-places the
	// calls their box could not place (access/search_direction.go).
	register(10, "search: classes per branch, settings", `
CREATE INDEX IF NOT EXISTS records_class_app ON records (class, appliance);
CREATE TABLE IF NOT EXISTS search_settings (
	name TEXT PRIMARY KEY,
	value TEXT NOT NULL
);`)
}

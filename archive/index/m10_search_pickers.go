package index

func init() {
	// The search page's class picker lists the classes in the reader's
	// branches: one index seek per class (access/search_page.go).
	register(10, "search: classes per branch", `CREATE INDEX IF NOT EXISTS records_class_app ON records (class, appliance)`)
}

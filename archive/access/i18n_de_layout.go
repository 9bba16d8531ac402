package access

func init() {
	de(map[string]string{
		"Search":            "Suche",
		"Sign out":          "Abmelden",
		"Search recordings": "Aufnahmen suchen",
		"Sign in":           "Anmelden",
	})
}

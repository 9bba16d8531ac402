package access

// The fleet page's filter and pages (fleet_list.go).
func init() {
	de(map[string]string{
		"Showing boxes %d to %d of %d":  "Geräte %d bis %d von %d",
		"No box matches these filters.": "Kein Gerät passt zu diesen Filtern.",
	})
}

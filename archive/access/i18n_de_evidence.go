package access

func init() {
	de(map[string]string{
		"Evidence bundle": "Beweispaket",
	})
}

package access

func init() {
	de(map[string]string{
		"This request was decided already (by you or another person).": "Über diesen Antrag wurde bereits entschieden (von Ihnen oder einer anderen Person).",
	})
}

package access

// German for the fleet's overdue legal recordings (fleet_health.go).
func init() {
	de(map[string]string{
		"legal recordings overdue": "gesetzlich aufzubewahrende Aufnahmen überfällig",
	})
}

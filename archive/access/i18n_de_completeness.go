package access

func init() {
	de(map[string]string{
		"Completeness": "Vollständigkeit",
		"Recorded incomplete by us: %d packets crossed the wire but were not captured.":                     "Von uns unvollständig aufgezeichnet: %d Pakete liefen über die Leitung, wurden aber nicht mitgeschnitten.",
		"Nothing that crossed the wire is missing from the recording.":                                      "Der Aufnahme fehlt nichts, was über die Leitung lief.",
		"No RTCP reports: missing packets cannot be attributed.":                                            "Keine RTCP-Berichte: fehlende Pakete lassen sich nicht zuordnen.",
		"Expected %d packets, captured %d; lost in the network %d, by the capture %d, not attributable %d.": "Erwartet %d Pakete, mitgeschnitten %d; im Netz verloren %d, beim Mitschnitt %d, nicht zuzuordnen %d.",
		"Direction":                       "Richtung",
		"Expected (sequence numbers)":     "Erwartet (Folgenummern)",
		"Expected (sender reports)":       "Erwartet (Senderberichte)",
		"Captured":                        "Mitgeschnitten",
		"Lost, reported by the receiver":  "Verloren laut Empfänger",
		"Lost in the network":             "Im Netz verloren",
		"Lost by the capture":             "Beim Mitschnitt verloren",
		"Not attributable":                "Nicht zuzuordnen",
		"Recorded incomplete by us":       "Von uns unvollständig aufgezeichnet",
		"Recorded incomplete by us today": "Heute von uns unvollständig aufgezeichnet",
	})
}

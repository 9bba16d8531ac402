package access

func init() {
	de(map[string]string{
		"Enrollment": "Inbetriebnahme",
		"Boxes built for this archive ask for their certificates at first boot and show an enrollment code on their status page. Approve the code a box shows as its name.": "Geräte, die für dieses Archiv gebaut wurden, fragen beim ersten Start nach ihren Zertifikaten und zeigen auf ihrer Statusseite einen Freigabecode. Geben Sie den Code eines Geräts unter seinem Namen frei.",
		"A second admin confirms each approval (four eyes).": "Ein zweiter Administrator bestätigt jede Freigabe (Vier-Augen-Prinzip).",
		"Code":                           "Code",
		"From":                           "Von",
		"Requested":                      "Angefragt",
		"Expires":                        "Läuft ab",
		"Filed":                          "Vorgemerkt",
		"as %s by %s":                    "als %s von %s",
		"No box is waiting.":             "Kein Gerät wartet.",
		"Approve a code":                 "Code freigeben",
		"Name":                           "Name",
		"Replacing an enrolled box: why": "Ersatz für ein eingebundenes Gerät: Grund",
		"Approve":                        "Freigeben",
		"Approved: the box receives its certificates at its next request.": "Freigegeben: Das Gerät erhält seine Zertifikate bei seiner nächsten Anfrage.",
		"Filed: a second admin confirms the approval (four eyes).":         "Vorgemerkt: Ein zweiter Administrator bestätigt die Freigabe (Vier-Augen-Prinzip).",
		"no pending enrollment request has this code":                      "Keine offene Anfrage hat diesen Code",
		"Enrollment requests": "Inbetriebnahme-Anfragen",
		"A second admin confirms each replacement of an enrolled box (four eyes).":            "Ein zweiter Administrator bestätigt jeden Ersatz einer eingebundenen Box (Vier-Augen-Prinzip).",
		"The list shows the first characters of each code: type the full code the box shows.": "Die Liste zeigt die ersten Zeichen jedes Codes: Geben Sie den vollständigen Code ein, den die Box anzeigt.",
	})
}

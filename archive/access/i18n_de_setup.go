package access

// German for the setup links (setup.go, web/setup.html).
func init() {
	de(map[string]string{
		"Set up your account":     "Ihr Konto einrichten",
		"Setup link to hand over": "Einrichtungslink zur Übergabe",
		"Account":                 "Konto",
		"Only you see this page's second factor: enrol it in your authenticator app, then choose your own password.": "Nur Sie sehen den zweiten Faktor dieser Seite: Richten Sie ihn in Ihrer Authenticator-App ein und wählen Sie dann Ihr eigenes Passwort.",
		"Scan the QR code with your authenticator app, or type the secret into it.":                                  "Scannen Sie den QR-Code mit Ihrer Authenticator-App oder geben Sie das Geheimnis dort ein.",
		"QR code of your second factor": "QR-Code Ihres zweiten Faktors",
		"Secret":                        "Geheimnis",
		"Your new password (12 characters or more)": "Ihr neues Passwort (mindestens 12 Zeichen)",
		"The same password again":                   "Dasselbe Passwort noch einmal",
		"Code from your authenticator":              "Code aus Ihrer Authenticator-App",
		"Set up my account":                         "Mein Konto einrichten",
		"Give this link to the user in person or through a second channel. It works once, for 72 hours; the user opens it to choose their own password and enrol their own second factor, which nobody else sees. If the user finds it already used, the account must be reset.": "Geben Sie diesen Link persönlich oder über einen zweiten Kanal an die Person weiter. Er gilt einmal, 72 Stunden lang; die Person wählt damit ihr eigenes Passwort und richtet ihren eigenen zweiten Faktor ein, den sonst niemand sieht. Ist der Link bei ihr schon verbraucht, muss das Konto zurückgesetzt werden.",
		"Setup link": "Einrichtungslink",
		"A second administrator approves the new account and receives a single-use setup link for the new user, who chooses their own password and second factor.": "Eine zweite Administratorin oder ein zweiter Administrator genehmigt das neue Konto und erhält einen einmal gültigen Einrichtungslink für die neue Person, die ihr Passwort und ihren zweiten Faktor selbst wählt.",
		"the two passwords differ": "die beiden Passwörter unterscheiden sich",
		"the code does not match the second factor shown: check that your app shows this account and try again": "der Code passt nicht zum angezeigten zweiten Faktor: Prüfen Sie, ob Ihre App dieses Konto anzeigt, und versuchen Sie es erneut",
		"open the link again: the page shows the second factor to enrol":                                        "öffnen Sie den Link erneut: Die Seite zeigt den einzurichtenden zweiten Faktor",
	})
}

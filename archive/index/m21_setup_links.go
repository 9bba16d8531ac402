package index

// Migration 21: setup links. An approved new account or reset gives the
// approver a single-use, expiring link the user opens to set their own
// password and enrol their own second factor; only the link's SHA-256
// is kept (hash), with the second factor offered to it while it is
// being set up (totp, sealed like users.totp) and the wrong codes
// answered to it (failures).
func init() {
	register(21, "setup links", `
CREATE TABLE setup_links (
	hash TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	purpose TEXT NOT NULL,
	created_by TEXT NOT NULL,
	created_at TEXT NOT NULL,
	expires_at TEXT NOT NULL,
	used_at TEXT NOT NULL DEFAULT '',
	totp TEXT NOT NULL DEFAULT '',
	failures INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX setup_links_name ON setup_links (name)
`)
}

package index

// Migration 7 (the access service's authorization work):
//   - requests.expires_at, requests.used_at: an approved export is
//     downloaded once (used_at set by the download that claims it) before
//     expires_at.
//   - request_commands: the box commands an approved request queued (one
//     row per command), so that the request reads "applied on N of M
//     boxes" and is done only when every box answered and the archive's
//     own copies are gone.
//   - the state "pending" is now called "filed".
func init() {
	register(7, "requests: single-use exports, commands per request", `
ALTER TABLE requests ADD COLUMN expires_at TEXT NOT NULL DEFAULT '';
ALTER TABLE requests ADD COLUMN used_at TEXT NOT NULL DEFAULT '';
CREATE TABLE IF NOT EXISTS request_commands (
	request_id INTEGER NOT NULL,
	command_id INTEGER NOT NULL,
	appliance TEXT NOT NULL,
	PRIMARY KEY (request_id, command_id)
);
UPDATE requests SET state = 'filed' WHERE state = 'pending'
`)
}

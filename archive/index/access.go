package index

// accessSchema holds the access service's tables (package access uses
// them through DB). Same rules as schema: timestamps are RFC 3339 text,
// flags are timestamps (” for not set), so both engines read them alike.
//
//   - users: local accounts; password is an argon2id PHC string, totp the
//     second factor's secret (base32), password_set_at ” while the
//     one-time password from "user add" is still in use.
//   - sessions: token is the SHA-256 (hex) of the session token, never
//     the token itself.
//   - search_terms: the blind index: term is an HMAC (hex) of a
//     normalised number, extension or tag under a key only the access
//     service holds; no number is stored in clear.
//   - search_queue: records ingest added that the blind indexer has not
//     been through yet (PutRecords adds them in the same transaction).
//   - search_facts: the clear facts search filters on (direction,
//     duration), and a row per record the indexer has been through.
//   - links: streaming links for the CRM (the signature is not stored).
//   - requests: four-eyes requests and their decision.
//   - accesses: who played, exported or streamed what, when (the audit
//     trail has the same in its hash chain; this table answers "who
//     accessed this recording" and "how much did this user play" by index).
const accessSchema = `
CREATE TABLE IF NOT EXISTS users (
	name TEXT PRIMARY KEY,
	role TEXT NOT NULL,
	branches TEXT NOT NULL,
	password TEXT NOT NULL,
	totp TEXT NOT NULL,
	totp_step INTEGER NOT NULL DEFAULT 0,
	password_set_at TEXT NOT NULL DEFAULT '',
	suspended TEXT NOT NULL DEFAULT '',
	created_at TEXT NOT NULL,
	failed INTEGER NOT NULL DEFAULT 0,
	locked_until TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS sessions (
	token TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	csrf TEXT NOT NULL,
	created_at TEXT NOT NULL,
	seen_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS search_terms (
	term TEXT NOT NULL,
	appliance TEXT NOT NULL,
	id TEXT NOT NULL,
	kind TEXT NOT NULL,
	PRIMARY KEY (term, appliance, id, kind)
);
CREATE TABLE IF NOT EXISTS search_queue (
	appliance TEXT NOT NULL,
	id TEXT NOT NULL,
	kind TEXT NOT NULL,
	PRIMARY KEY (appliance, id, kind)
);
CREATE TABLE IF NOT EXISTS search_facts (
	appliance TEXT NOT NULL,
	id TEXT NOT NULL,
	kind TEXT NOT NULL,
	direction TEXT NOT NULL,
	duration_ms INTEGER NOT NULL,
	PRIMARY KEY (appliance, id, kind)
);
CREATE TABLE IF NOT EXISTS links (
	id TEXT PRIMARY KEY,
	appliance TEXT NOT NULL,
	recording TEXT NOT NULL,
	by TEXT NOT NULL,
	created_at TEXT NOT NULL,
	expires_at TEXT NOT NULL,
	network TEXT NOT NULL,
	revoked_at TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS requests (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	action TEXT NOT NULL,
	target TEXT NOT NULL,
	reason TEXT NOT NULL,
	requested_by TEXT NOT NULL,
	requested_at TEXT NOT NULL,
	decided_by TEXT NOT NULL DEFAULT '',
	decided_at TEXT NOT NULL DEFAULT '',
	state TEXT NOT NULL,
	result TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS accesses (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	time TEXT NOT NULL,
	name TEXT NOT NULL,
	action TEXT NOT NULL,
	appliance TEXT NOT NULL,
	recording TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS accesses_name_time ON accesses (name, time);
CREATE INDEX IF NOT EXISTS accesses_recording ON accesses (appliance, recording);
CREATE TABLE IF NOT EXISTS fleet_alerts (
	appliance TEXT NOT NULL,
	kind TEXT NOT NULL,
	raised_at TEXT NOT NULL,
	PRIMARY KEY (appliance, kind)
);
`

package index

// Migration 6: account lifecycle and sign-in sources.
//   - users.disabled: why (and when) an administrator disabled the
//     account; ” while it is enabled. A disabled user has no session
//     and cannot sign in.
//   - signin_sources: the sources (an IPv4 address or an IPv6 /64) each
//     user signed in from successfully, and when last. After repeated
//     failures an account accepts sign-ins only from these until its
//     owner signs in or an administrator unlocks it, so that an outsider
//     who keeps failing cannot lock the owner out.
//
// TOTP secrets need no schema change: users.totp holds either the clear
// base32 secret (indexes written before this version) or "sealed1:" and
// the secret sealed under a key the keyring derives; the access service
// seals clear ones when it starts, every few seconds while it runs and at
// their first use (access.SealSecrets).
func init() {
	register(6, "account lifecycle and sign-in sources", `
ALTER TABLE users ADD COLUMN disabled TEXT NOT NULL DEFAULT '';
CREATE TABLE IF NOT EXISTS signin_sources (
	name TEXT NOT NULL,
	source TEXT NOT NULL,
	last_ok TEXT NOT NULL,
	PRIMARY KEY (name, source)
)`)
}

// Package access is the people side of the central archive: who may touch
// which recordings, and how. It signs people in (argon2id passwords and
// TOTP), scopes every role to branches (appliances), searches through a
// blind index, plays recordings in the browser, mints streaming links for
// the CRM, runs four-eyes requests, answers subject requests (GDPR Art. 15
// and 17) across every branch, watches the fleet and raises alerts to the
// data-protection officer. It serves server-rendered HTML and a JSON API
// with the same rights, on its own HTTPS listener (never the ingest one).
//
// Invariants:
//   - Nothing personal without a session and the right role: every
//     handler asks Allowed(role, action) and the user's branch scope
//     before it reads anything; a denial is a 403 with the reason and an
//     audit entry. Without the keyring (the archive's identity) the
//     service lists only what is in clear.
//   - The database holds no number in clear: the blind index keeps HMACs
//     under a key only this service holds (package keyring); audit
//     entries name recordings by appliance and ID, searches by the blind
//     term, never by the number.
//   - Every sign-in, search, playback, link minted or used, export,
//     request, decision and command is in the archive's hash-chained
//     audit trail (anchored in the anchor log with the boxes' heads).
//   - Critical actions (export, erasure, hold release, role changes, bulk
//     erasure) take two people: one requests, a different one whose role
//     approves that action decides; the action runs only then.
//   - Sign-in cannot be turned into a weapon (signin.go): limits per
//     source and per name are checked before argon2id, which runs behind
//     a semaphore of at most two; every admitted sign-in hashes exactly
//     once (unknown names against a dummy hash); failures and TOTP steps
//     are counted atomically (one session per code); failures slow their
//     source down instead of locking the owner out; refusals before a
//     session are audited once per source and minute, with a count.
//   - Accounts (account.go): TOTP secrets are sealed under a key the
//     keyring derives (clear ones from older indexes are sealed when the
//     service starts, while it runs and at first use); the one-time
//     password only sets a new password; changing a password takes the
//     current one and a code and ends every session of the user; an
//     administrator disables (signed out at once), enables and unlocks a
//     user at once, and resets one's password and second factor with a
//     second administrator's approval (the CLI does all of it directly).
//   - A user who plays or exports far more than the configured rate, or
//     outside working hours, is suspended from playback at once; a second
//     person lifts it.
package access

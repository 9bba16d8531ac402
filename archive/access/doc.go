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
//     audit trail, each entry anchored in the anchor log with the boxes'
//     heads; a row of accesses is written in one transaction with its
//     entry, and archive.CheckTrail (the auditor's page and API) checks
//     the rows of accesses and requests against the trail.
//   - Critical actions (export, erasure, hold release, role changes, bulk
//     erasure) take two people: one requests, a different one whose role
//     approves that action decides; the action runs only then.
//   - A user who plays or exports far more than the configured rate, or
//     outside working hours, is suspended from playback at once; a second
//     person lifts it.
package access

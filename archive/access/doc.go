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
//   - Audio that leaves (a play, a stream through a CRM link, an export)
//     is admitted before its first byte (limits.go): one transaction on
//     the user's row (for a link, its minter's) checks suspension, role,
//     branch, working hours and the number of distinct recordings within
//     the window; outside working hours, or past the limit, it is refused
//     and the user suspended at once with an alert; a second person lifts
//     it. A link dies when its minter is suspended, loses the role or the
//     branch. A suspended user gets no personal data (search, recordings,
//     audio, subject reports, links), only their own requests.
//   - Viewing (a page or its JSON), playing, streaming and exporting are
//     different actions in the access log and the Art. 15 report; the page
//     fetches audio only when played.
//   - DTMF digits (card numbers, PINs) are masked in every view: that a
//     key was pressed and when, never which; a role with ActDTMF reveals
//     them for one call, with a reason, audited.
//   - Streaming links are built on access.public_url (never a request's
//     Host); without it no link is minted.
package access

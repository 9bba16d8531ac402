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
//     handler goes through authorize (authz.go) with the user's role,
//     branches and suspension, the action and the target's branches
//     before it reads anything. A role that may not act is a 403 with the
//     reason; a target outside the user's branches is a 404 with the same
//     body as an unknown one (no existence oracle); every refusal is an
//     audit entry with the real reason. Role changes and new users obey
//     the same scope: scoped roles need existing branches within both
//     admins' scopes, and a scoped user is never made unscoped. Without
//     the keyring (the archive's identity) the service lists only what is
//     in clear.
//   - The database holds no number in clear: the blind index keeps HMACs
//     under a key only this service holds (package keyring); audit
//     entries name recordings by appliance and ID, searches by the blind
//     term, never by the number. The index stores the keyring's key
//     check; the service refuses to start with a keyring whose check
//     differs (CheckKeys), so the blind index and links are never read
//     or written under another key.
//   - Every sign-in, search, playback, link minted or used, export,
//     request, decision and command is in the archive's hash-chained
//     audit trail, each entry anchored in the anchor log with the boxes'
//     heads; a row of accesses is written in one transaction with its
//     entry, and archive.CheckTrail (the auditor's page and API) checks
//     the rows of accesses and requests against the trail. An auditor
//     scoped to branches reads only their branches' entries.
//   - Critical actions (export, erasure, hold release, role changes, bulk
//     erasure) take two people: one requests, a different one whose role
//     approves that action, within their branches, decides; the action
//     runs only then, and the approver sees its plan first (for a
//     subject: how many recordings on which branches, which are refused).
//     An erasure by subject touches only the branches both people hold.
//     A request goes filed, approved, applying ("applied on N of M
//     boxes"), done only when every box applied it and the archive's
//     copies are gone; an erased recording or call record is not served
//     from approval on (410), and its rows keep no sealed metadata or
//     search terms (archive/index purgeErased). An approved export is downloaded once, by its requester, within
//     exportTTL (24 h), their scope checked again at the download.
//   - Audio that leaves (a play, a stream through a CRM link, an export)
//     is admitted before its first byte (limits.go): one transaction on
//     the user's row (for a link, its minter's) checks suspension, role,
//     branch, working hours and the number of distinct recordings within
//     the window since the user's last review; outside working hours, or
//     past the limit, it is refused and the user suspended at once with
//     an alert; a second person within the user's branches lifts it (a
//     "reviewed" mark from which the count starts anew; the access
//     history is not rewritten). A link dies when its minter is
//     suspended, loses the role or the branch; a crm user revokes its own
//     links, a DPO or admin any within their branches. A suspended user
//     gets no personal data (search, recordings, audio, subject reports,
//     links) and files no export, only keeps their own requests.
//   - Viewing (a page or its JSON), playing, streaming and exporting are
//     different actions in the access log and the Art. 15 report; the page
//     fetches audio only when played.
//   - DTMF digits (card numbers, PINs) are masked in every view: that a
//     key was pressed and when, never which; a role with ActDTMF reveals
//     them for one call, with a reason, audited.
//   - Streaming and setup links are built on access.public_url (never a
//     request's Host); without it no link is minted, and no account is
//     added or reset (setup_base.go).
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
//     second administrator's approval. The archive's command line acts
//     through cli.go under the same rules: the person its -by names is
//     authenticated like a sign-in (operator.go), their role and branches
//     apply, erasures, releases, exports and account requests are the
//     same four-eyes requests, and only the first two administrators of
//     an archive are added without credentials (setup links, alerted).
//   - Errors at the edge (errors.go): every handler answers an error
//     through one writer (internal/httperr), JSON for the API and links, a
//     page for the web. Refusals and the package's sentinels keep their
//     status and text; input errors are 400 with what to fix; anything
//     else (a database or store fault) is 500 with a generic message, its
//     cause in the log only. Web and API share one function per action
//     (search, view, requests, the trail) and differ only in rendering.
//   - Pages are embedded templates (web/) with a data type per page
//     (pages.go), rendered into a buffer first (a template error is a
//     500, never half a page), under a CSP (CSP) that allows scripts and
//     styles only from web/'s files: the pages carry no inline script or
//     style.
package access

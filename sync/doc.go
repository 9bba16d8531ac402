// Package sync is where a box's sealed recordings become the archive's:
// the wire protocol (sync/wire) and the box's client (sync/client). The
// archive's side is archive/. This file is the protocol, message by
// message.
//
// # Transport and identity
//
// HTTPS (HTTP/1.1, so that a cut upload leaves the archive every byte that
// arrived) over TLS 1.3 only, with the hybrid post-quantum key exchange
// X25519MLKEM768 only (wire.KeyExchanges, both ends), the box connecting
// out to the
// first reachable address of its [sync] archives list. The archive's
// server certificate and the box's client certificate come from the
// archive's private CA (spanvault-archive init / enroll). The box's
// identity is the single DNS name in its certificate, and the archive's
// index pins the one certificate (serial and public key) the name holds
// now. On every request the archive checks: a client certificate is
// present (401 "no client certificate presented"), issued by its CA
// ("certificate not issued by this archive's CA"), not expired beyond the
// renewal bound ("certificate expired beyond the renewal bound"), enrolled
// ("appliance is not enrolled"), the name not revoked ("appliance is
// revoked"), the serial not revoked, retired or replaced ("certificate is
// revoked": for good, whatever happens to the name later), and the
// certificate the pinned one ("certificate is not the one pinned for this
// appliance": another certificate of the same CA for the same name is
// refused); any name a message carries equals the certificate's
// ("appliance name does not match the certificate"). Refusals are 401/403
// with {"error": text} and the same text in the Spanvault-Error header,
// and an entry in the archive's audit trail (an alert when the
// certificate names a box). A fault of the archive's own (index, store)
// is a 500 in the same shape with the text "internal server error": its
// cause is in the archive's log, never sent to the box. A certificate
// expired within the bound may only renew. Headers must arrive within 10 s and every body at the
// archive's upload_min_rate, measured over every upload_stall (1 KiB/s
// over 30 s by default), or the request is cut: a stalled box holds a
// connection of its own for that long and nothing else.
//
// Enrolling an enrolled name is refused. A new box for a name (the old
// one stolen or broken) is an explicit replacement that two admins
// approve (spanvault-archive approve -replace -reason WHY, twice, or the
// workspace; Archive.Replace): it revokes every serial of the name for
// good, lifts a revocation of the name, raises its enrolment epoch, pins
// the new certificate and resets the pinned audit key and anchored head
// (the new box's key is pinned at its first audit upload), with an alert
// for the DPO. spanvault-archive revoke revokes the name and every serial
// pinned to it. An index from before pinning pins the first certificate
// of its CA a box presents (logged); a name revoked before then must be
// replaced ("no certificate can be pinned for this appliance").
//
// # Messages (JSON bodies, at most wire.MaxMessage bytes, unknown fields refused)
//
//  1. POST /sync/v1/checkin  CheckIn{appliance, time, health, results, tree_size}
//     -> CheckInReply{time, commands, clock_skew, checkpoint, consistency, anchored_seq, refused_erasures}.
//     Every few minutes and at the start and end of every pass. Health
//     holds no personal data; its backlog and disk are taken when the
//     message is sent (after_pass), so the check-in that ends a pass
//     reports what is still waiting after its uploads. results answer commands delivered earlier
//     (applied, or refused with the vault's reason). clock_skew is set when
//     the box's clock differs from the archive's by more than
//     max_clock_skew: data is still accepted, the skew is alerted at the
//     archive and audited on the box. The checkpoint is the anchor log's
//     signed tree head (a sumdb note); consistency proves it extends the
//     tree of tree_size the box verified last. A box that cannot verify it
//     stops syncing (ErrAnchor): the archive's log was rewritten.
//     refused_erasures lists, once, this box's erasures the archive
//     refused to apply to its own copy, with why (see Tombstones); the box
//     audits each (erasure_refused_at_archive).
//  2. POST /sync/v1/audit  AuditUpload{entries, head, key} -> AuditReply{index, inclusion, checkpoint}.
//     The entries after anchored_seq up to the signed head. The archive
//     pins the box's Ed25519 audit key the first time (a different key
//     later: 409 and an alert), checks each entry's hash and link from the
//     last anchored entry and the head's signature (a chain rewritten,
//     truncated or forked after anchoring: 409 and an alert), stores the
//     entries, appends "spanvault audit head\n<name>\n<seq>\n<hash>\n" to
//     its Merkle log (golang.org/x/mod/sumdb/tlog) and returns the
//     record's inclusion proof, which the box checks.
//  3. HEAD /sync/v1/objects/<sha256> -> 200, Upload-Offset: bytes held,
//     Upload-Complete: 1 when the archive holds the whole object. The
//     address is the SHA-256 of the sealed file. The answer is about the
//     asking box's own upload only: complete only for an object this box
//     uploaded (it owns it), else the offset of this box's own partial;
//     another box's object or partial reads as nothing held (offset 0).
//  4. PATCH /sync/v1/objects/<sha256>, Upload-Offset: n, Upload-Length: total,
//     body: the file's bytes from n -> 204 (partial; Upload-Offset: new
//     offset) or 201 (complete, Upload-Complete: 1). Partials are the
//     box's own (kept per box and address: another box's bytes under the
//     same address neither extend nor poison them). Before any byte is
//     written: an Upload-Length over the archive's max_recording is 413;
//     an object another box owns is 409 (audited and alerted: sealed files
//     have random file keys, so identical bytes from a second box are a
//     copy, and never give that box the first one's recording); the box's
//     unfinished uploads beyond its partial_quota are 507. The body must
//     arrive at upload_min_rate, measured over every upload_stall, or the
//     request is cut with 408 (what arrived is kept; resume from HEAD).
//     The archive appends and fsyncs what arrived before answering, so a
//     cut connection loses nothing received; an offset that is not the
//     archive's is 409 with the archive's offset; at the declared length
//     the archive re-hashes the bytes, and a mismatch is 422 (the partial
//     is dropped). The box whose upload completes an object owns it. A
//     full store is 507. A stalled upload holds only its own partial: no
//     other upload waits for it. Partials that receive no byte for
//     partial_ttl (a day) are removed. Repeating any PATCH is harmless.
//     A box sends its recording's class and start with every PATCH, in
//     tus's Upload-Metadata ("class <base64>,start <base64 RFC 3339>",
//     wire.UploadMeta): an archive on S3 writes the object with the
//     date the record will ask for (GOVERNANCE whatever the class; never
//     shorter than the provisional lock, and a start more than a day
//     ahead of the archive's clock is not believed), so that a
//     GOVERNANCE class's record needs no lock call. The record decides
//     (message 5): a legal class's record makes the lock COMPLIANCE, and
//     a date the upload claimed beyond what the record needs is
//     shortened; what the upload said can neither weaken the record's
//     lock nor keep the archive from erasing it. Without the header (an
//     older box) the object is locked provisionally and the record sets
//     it.
//  5. POST /sync/v1/records  Records{records} -> RecordsReply{acks}, one ack
//     per record in order. A record is a recording (its object must be
//     complete, of the stated size, and owned by this box: a record naming
//     another box's object is refused in its ack, audited and alerted), a
//     call detail record, or a tombstone of a kind (removed or erased, see
//     Tombstones), with the box's clear entry and sealed metadata as they
//     are. A new recording's object gets the archive's retention for its
//     class from its start, never shorter than what the store holds, and a
//     legal hold only where the archive holds it (a hold command): a
//     record's hold flag, start or class never shortens a date, clears a
//     hold or weakens a lock; a repeated record changes nothing.
//     ok:true means the index row is committed (SQLite, synchronous=FULL)
//     and, for a recording, the object durable. Only then does the box mark
//     the entry synced (vault.AcknowledgeMany, one bbolt transaction); its
//     retention may then delete the local copy after the class's grace
//     period. Records are keyed by (appliance, id, kind): repeats are no-ops.
//  6. POST /sync/v1/renew  RenewRequest{csr} -> RenewReply{cert, ca}. The box
//     renews at two thirds of its certificate's lifetime, with a new key;
//     the old pair stays on disk until the new one is written whole.
//     Renewal needs the pinned certificate; the archive pins the new one
//     before answering. The renewed certificate may retry the renewal
//     (its reply may have been lost: the certificate issued then is
//     revoked) and nothing else ("certificate was renewed: ..."), until
//     the new one is first used; then it is retired for good. A pin that
//     moved meanwhile is 409. Revocation is passive as well as immediate:
//     a revoked box can neither connect nor renew.
//  7. POST /sync/v1/ledger  LedgerUpload{ledger, key, signature} ->
//     LedgerReply{index, inclusion, checkpoint, recordings}. The coverage
//     ledger (record/ledger) of a finished day (UTC): every dialog that
//     started that day by recording ID, with its status (complete,
//     incomplete, not recorded, removed, erased) and reason, the sealed
//     recording's SHA-256, and the figures per line; no personal data.
//     The box signs it with its audit key, keeps it, and sends the same
//     bytes until acknowledged, once every recording of the day is. The
//     archive refuses a ledger not signed by the pinned key, of another
//     name, of a day not over, not compact JSON, or differing from the
//     one it holds for that day (409, alerted); it keeps the ledger byte
//     for byte and appends to the anchor log "spanvault coverage
//     ledger\n<name>\n<day>\n<sha256>\n" and, for each recording listed,
//     "spanvault recording\n<name>\n<id>\n<sha256>\n<sha256 of its
//     index entry, or ->\n", in one transaction, and proves the ledger's
//     record under a new checkpoint; the box checks the proof. verify
//     then checks every recording the archive holds for that day is
//     listed, and every one listed is held or has a tombstone.
//
// # Tombstones
//
// A tombstone says the box deleted an entry; its kind (Record.tombstone)
// says which deletion, because the two leave the archive different duties:
//
//   - "removed": a local removal. The box let its copy go because it is
//     the archive's now or because the box ran out of room: the grace
//     period after the archive's acknowledgement, the class's maximum age
//     on the box, quota eviction (pull-and-forget is a pull followed by
//     the grace period), a file fsck found missing. It is not a decision
//     about the recording: the archive records removed_from_box_at and
//     keeps serving its own copy for the archive's class and holds
//     (playback, search, links, exports, subject reports).
//   - "erased": a GDPR Art. 17 erasure, whoever made it on the box (a DPO
//     with spanvault erase, the box API, an erase command from the
//     archive). The archive applies it to its own copy exactly as an erase
//     it commanded: a write-once erasure note, the object erased
//     (crypto-shredded on locked S3 storage), the index marked erased
//     (deleted_at; playback answers 410 and search drops it), and the
//     tombstone with the subject's sealed numbers kept for Art. 15 (when
//     the store cannot erase, the index is marked all the same, the
//     tombstone acknowledged, and the store's erasure alerted as pending,
//     erasure_pending, and tried again at every start). Unless
//     the archive holds the recording: a legal hold at the archive, or a
//     class in its legal_retention (a legal duty, Art. 17(3)(b)) before
//     its date. Then it refuses: the copy stays, the DPO is alerted
//     (erasure_refused), the index says why, and the box is told in its
//     next check-in reply.
//
// Either way the tombstone is acknowledged once the archive has done its
// part, so the box does not send it again. A tombstone with no kind comes
// from a box older than the kinds and counts as a removal, never an
// erasure; any other kind is refused in its ack. Who may act on what: a
// box's tombstones act only on that box's own records (the certificate's
// name keys every lookup), and no tombstone lifts or shortens the
// archive's retention or holds: a removal changes nothing at the archive
// but removed_from_box_at, and an erasure yields to the archive's holds.
// Only the archive's operators (spanvault-archive hold, release, erase, or
// the access service's approved requests) decide about the archive's copy
// otherwise.
//
// # Enrollment (zero-touch)
//
// POST /sync/v1/enroll  EnrollRequest{csr, api_csr, hosts} -> EnrollReply
// is the one path served without a client certificate. A box built for an
// archive knows its addresses and the SHA-256 of its CA certificate
// ([enroll] ca_fingerprint; spanvault-archive ca-fingerprint prints it);
// the archive's TLS chain ends with the CA, and the box accepts the
// connection only when that CA has the pinned fingerprint and issued the
// server certificate for the address. The box makes its sync and API
// keys in its persistent directory (0600) and sends a CSR for each; its
// enrollment code is the first 80 bits of SHA-256("spanvault enroll\n" ||
// its sync key's SubjectPublicKeyInfo) in Crockford base 32
// (wire.EnrollCode, "7K2M-9QXA-..."), shown on its status page and
// spelled by its LED. The archive rate-limits the path per source network
// (/24 for IPv4, /64 for IPv6) and overall before it reads the body
// (429), bounds the body (wire.MaxEnrollMessage) and the requests pending
// (16 per source network: 429; in all: 503), checks both
// CSR signatures (P-256 or Ed25519 keys only), and records the request
// under its code: 202 {state: pending, code, expires_at}. An admin
// approves the code as a name (spanvault-archive approve -code CODE -name
// NAME, or the fleet's enrollment page; with [enroll] four_eyes, a second
// admin confirms): the archive issues the sync and API certificates, pins
// the sync one exactly like enroll, and hands them out at the box's next
// request with the CA, the anchor and policy keys and the sync settings
// ([enroll] window, rate, check_in_every); the box writes them and its
// [sync] section (enrolled.toml) and starts syncing without a restart. A
// code that names no pending request approves nothing; a request not
// approved within a day, or not asked again for an hour (a pending box
// asks every poll_every; each request moves expires_at), expires (410:
// the box starts over with a new key and code); an enrolled name is refused unless the approval is the
// explicit replacement (approve -replace -reason WHY, by two admins).
//
// # Policy
//
// A box's policy (retention classes and rules, legal retention, capture
// extensions, sync window and rate) is a signed, versioned document
// (wire.PolicyDoc: the box's own configuration syntax for those sections)
// for the box (box:NAME) or its group (group:NAME), set with
// spanvault-archive policy set; versions are unique across the archive
// and only grow, and a box's own policy comes before its group's. Every
// check-in carries the box's PolicyReport (the version applied, the last
// refusal and why, the settings waiting for a restart); the reply carries
// the policy in force when it is newer than the one applied and was not
// refused. The box verifies the Ed25519 signature (over "spanvault policy
// v1\n" || doc) with the key it pinned at enrollment (sync.policy_key),
// refuses a version not above the one applied or one for another box,
// validates the settings with its own configuration validation and
// applies them at once (retention, with every stored recording's expiry
// computed again; window and rate at the next pass) or at its next start
// (capture.extensions, reported). It keeps the applied document and
// applies it again at start. Applications and refusals are in the box's
// audit chain (policy_applied, policy_refused) and in the archive's trail
// (policy_applied; policy_refused as an alert). Boxes that send no report
// (older ones) are sent no policy.
//
// # Updates
//
// Firmware updates are signed with the archive's update key (DIR/update.key,
// a key of its own: not the policy key), whose public half a box pins at
// enrollment (wire.EnrollReply.UpdateKey; update.pub from enroll). An
// update is a root file system and a boot partition described by a
// wire.UpdateManifest (serial, version, architecture, each file's size and
// SHA-256), signed over "spanvault update v1\n" || manifest. The archive
// publishes it (spanvault-archive update publish: the signature, the
// sizes and the hashes checked, a serial once) and rolls it out in waves
// (update roll): wave 0 is the canary box alone; once it confirmed, wave 1
// is a percentage of the target (by the SHA-256 of serial and name); once
// every box of wave 1 confirmed or failed, wave 2 is the rest.
//
//   - Offer: the check-in reply carries wire.UpdateOffer{Rollout, Update,
//     ConfirmWithin} while a rollout's wave in progress includes the box
//     and the box's Health.FirmwareSerial is below the serial; never a
//     serial at or below what the box runs. The offer comes again at each
//     check-in until the box is done with it.
//   - Download: GET /sync/v1/update/SERIAL/root and /boot over the box's
//     mutual TLS (the same checks as every request), only while the box
//     has the offer in flight (offered, downloading, written): 403 with
//     "no update offer for this box and serial" otherwise. Range requests
//     resume (206); the box downloads inside its window under its rate
//     cap and checks the signature, serial, architecture and hashes. A
//     GET with a body is refused (400, connection closed); a box has at
//     most 2 downloads at once, the archive 64 (503, Retry-After). The
//     box ends a download that receives no byte for a minute
//     (client.Config.UpdateStall) and resumes it at a later pass; it
//     bounds an offer's ConfirmWithin to 1m..24h.
//   - States: the box reports its progress in Health (FirmwareSerial,
//     UpdateState, UpdateSerial, UpdateRollout, BootedAt, UpdateFailure).
//     The archive records, per box and rollout: offered; downloading,
//     written, trying as reported; confirmed when the box runs the serial
//     and reports "confirmed" (or nothing in progress); failed when it
//     reports "rolled-back" or "refused", or an UpdateFailure, for the
//     serial, or has not confirmed within the rollout's deadline (48h by
//     default) of its first offer, or of its wave's start when it never
//     checked in; skipped when it runs a serial above. A box that runs the
//     serial already counts as confirmed. A box reports its refusal of an
//     offer, and that it rolled the serial back before (it never tries a
//     serial again that it rolled back), with the offer's rollout ID: a
//     new rollout of the same serial learns it at once.
//   - Stop: when the failed boxes of the wave in progress exceed the
//     rollout's threshold (a fraction; the canary's failure always), or
//     the canary skipped the update (no box tried it), the
//     rollout stops by itself and the archive alerts
//     (update_rollout_stopped); nothing more is offered or downloadable.
//     update stop stops one by hand. A revoked box leaves the rollouts
//     it is not done in. A rollout to more than one box starts only when
//     a second admin approved it (four eyes). Every step is in the archive's trail
//     (update_published, update_rollout, update_wave, update_confirmed,
//     update_failed, update_rollout_done).
//
// # A pass
//
// renew if due; check in (apply commands); anchor the audit chain; inside
// the nightly window, or when the archive pulled: for each pending entry
// oldest first, upload its object (a PATCH from offset 0 with Expect:
// 100-continue, so that an archive holding some or all of it answers
// 409 or 201 before the body is sent; then, and for an upload this
// client saw cut, HEAD and a PATCH from the archive's offset; through a
// golang.org/x/time/rate limiter), then send its record
// in batches of 500, then the tombstones, then the ledgers of finished
// days (at most 31 a pass); check in again to report
// results and verify the grown log. Any failure ends the pass; the next
// one resumes where the archive's state says.
package sync

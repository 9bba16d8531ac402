// Package evidence is the evidence bundle: one file that lets anyone,
// without access to the archive, check that a recording is the one a box
// recorded, unaltered, listed in the box's signed coverage ledger of its
// day, and that both, and the box's audit chain, are in the archive's
// append-only log under a checkpoint the archive signed (and, optionally,
// that the checkpoint existed at a time a time-stamping authority
// attests). The archive writes bundles (spanvault-archive evidence);
// `spanvault verify-evidence FILE` checks them with this package alone
// (it imports neither side: no database, no network).
//
// # Format, version 1
//
// A bundle is the line "spanvault evidence v1\n" followed by these
// sections, each exactly once and in this order:
//
//	NAME SP LENGTH LF BYTES LF
//
// NAME is the section's name below, LENGTH the decimal number of BYTES
// (no sign, no leading zero), and LF a single 0x0a. Nothing follows the
// last section. A reader refuses any other name, order, spelling of a
// length, or trailing byte, so that every byte of a bundle is either
// framing checked here or content covered by a proof below.
//
//	checkpoint        the archive's signed checkpoint: a note
//	                  (golang.org/x/mod/sumdb/note) whose text is a tlog
//	                  tree head (size and root hash of the log)
//	log-key           the note verifier key of the archive's log
//	                  (NAME+HASH+KEY), which the reader compares with the
//	                  key the archive publishes (verify-evidence -log-key)
//	recording         the sealed recording, byte for byte as the box
//	                  sealed it (an age file; SHA-256 is its address)
//	entry             the recording's index record: the box's clear
//	                  entry (record.Entry as JSON) as the archive holds it
//	recording-proof   the inclusion proof of the recording's record in
//	                  the log (see Proofs)
//	ledger            the box's coverage ledger of the recording's day
//	                  (record/ledger), the bytes the box signed
//	ledger-key        the box's Ed25519 audit public key (32 bytes)
//	ledger-signature  Ed25519 over ledger.SignedMessage(ledger) (64 bytes)
//	ledger-proof      the inclusion proof of the ledger's record
//	head              the log's record of the box's newest anchored audit
//	                  head (wire.AnchorText: name, sequence number, hash)
//	head-proof        the inclusion proof of that record
//	timestamp         an RFC 3161 time-stamp token (DER) over the SHA-256
//	                  of the checkpoint section, or empty
//
// A time-stamp token is read in one shape only (cms.go): a DER
// ContentInfo of a SignedData of version 3 holding a TSTInfo, one signer
// identified by issuer and serial number (the first certificate carried),
// its digest algorithm the only one listed, signed attributes with the
// content type and the TSTInfo's digest, no unsigned attributes, no
// CRLs, and every certificate carried on the authority's chain. The
// signature is checked over the signed attributes as carried; CMS leaves
// the rest unsigned, so anything else is refused rather than ignored.
//
// # Proofs
//
// A proof section is the record's index in the log (8 bytes, big
// endian) followed by the 32-byte hashes of a tlog record proof
// (tlog.ProveRecord) in the tree the checkpoint signs. The records are:
//
//   - the recording: ledger.RecordingText(appliance, id, sha256 of the
//     recording section, hex SHA-256 of the entry section);
//   - the ledger: ledger.AnchorText(appliance, day, hex SHA-256 of the
//     ledger section);
//   - the head: the head section itself, which must name the appliance.
//
// The appliance and day are the ledger's; the recording's ID is the
// entry's, which must also give the recording's SHA-256 and start on the
// ledger's day; the ledger must list the recording with that SHA-256.
//
// What this proves, and what not: that the archive's log (whose
// checkpoints a box verifies append-only at every check-in) held, at the
// checkpoint, this recording's bytes and index record as listed by the
// box in the ledger it signed for that day, and the box's audit head.
// The ledger shows every other dialog of that day with its status, so a
// removal of another recording of that day shows as a listed recording
// with no tombstone. Trust rests on the archive's log key and the box's
// audit key; a reader checks both fingerprints against ones published
// out of band.
//
// A bundle carries its own keys, and anyone can make a log key, a box
// key and a self-signed time-stamping authority that fit together
// (evidencetest.Forge). So Verify reports as proven only what it checked
// against keys the caller gave: without Options.LogKey the checkpoint and
// everything under it is Unverified (Report.LogKeyChecked false) and
// spanvault verify-evidence says "UNVERIFIED: no archive log key given"
// and exits non-zero, listing what is consistent in itself; without
// Options.BoxKey (-box-key) the ledger's signer is reported as the key
// the bundle names (the log anchors the ledger's hash, not its key);
// without trusted roots (-tsa-cert) a time-stamp is "unverified (no TSA
// certificate given)".
package evidence

// Package sync will hold the nightly upload of sealed recordings to the
// central archive over mutual TLS, and the archive side that receives and
// serves them. It is a later issue; nothing here is implemented yet, and
// nothing in the box pretends otherwise: the status page says "not
// configured" and shows no sync figure.
//
// What the vault already provides for it:
//   - every index entry carries its sync state ("pending" for recordings,
//     "not_required" for call detail records) and, once acknowledged, the
//     time of the archive's acknowledgement (vault.Entry.Sync, AckedAt);
//   - vault.Vault.Acknowledge records an acknowledgement, audits it, and
//     starts the retention class's grace period, after which retention
//     deletes the local copy; classes marked must_sync are never evicted
//     for space before they are acknowledged;
//   - recordings are standard age files, so the archive can store them as
//     they are, and the signed audit chain head (vault/audit) is what the
//     archive keeps to prove later that the box's log was not rewritten;
//   - appliance.Syncer is the interface the daemon shows on its status page
//     and LED ("sync failing for over 48 hours").
package sync

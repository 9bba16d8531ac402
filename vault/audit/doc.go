// Package audit keeps the vault's tamper-evident audit trail: an
// append-only chain of entries in a bbolt bucket, each carrying the SHA-256
// of its predecessor, with the chain head signed by the appliance's Ed25519
// key.
//
// Guarantees and their limits:
//   - Editing, deleting or reordering any entry breaks the chain at that
//     entry, and Verify names it.
//   - Cutting entries off the end is caught by the signed head, which names
//     the sequence number and hash of the last entry.
//   - Someone who holds the box can re-sign a rewritten chain with the
//     box's key. The archive keeps every signed head it receives (in its
//     anchor log, archive/anchor, under signed checkpoints the box
//     checks), so a rewrite is detected there against the heads it saw.
//   - Entries hold no personal data in clear: recording IDs, actions,
//     actors (role names) and counts only.
//
// Append must run inside the bbolt transaction that makes the change it
// records, so a change and its audit entry commit together or not at all.
package audit

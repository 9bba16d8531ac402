// Package auditchain is the pure half of the box's audit trail, the part
// both ends of the sync read: an entry, the signed head, the hash that
// links each entry to the one before, and the check of a run of entries
// against a head. It imports nothing of the vault (no bbolt) and nothing
// of the archive, so the archive can check a box's chain without linking
// the box's storage, and the box can send it without linking the archive.
//
// The format is frozen: an entry's hash is the hex SHA-256 of its JSON
// encoding with Hash empty, and a head's signature (Ed25519) covers
// "spanvault audit head <seq> <hash>". Chains written since the first
// release verify with this code (testdata holds one).
//
// The chain itself (append, verify, list) lives where it is stored:
// vault/audit on the box; the archive keeps what boxes send in its index.
package auditchain

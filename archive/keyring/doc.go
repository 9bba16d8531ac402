// Package keyring holds what only the archive's access service may hold:
// the archive's age identity, which opens the personal metadata the boxes
// seal and the recordings themselves, and the keys derived from it for
// the blind index (numbers, extensions and tags as HMACs) and for signing
// streaming links.
//
// Invariants:
//   - Ingest never needs a Keyring: the boxes seal to the archive's
//     recipient, and the ingest side stores what they send as it is.
//   - A Keyring is loaded once at start, from a file no group or other
//     may read (0600), or from an environment variable; it never prints
//     itself (String and GoString say "redacted"), so no log line can
//     carry it.
//   - The derived keys (HKDF-SHA-256, one label per key) come from the
//     first identity's key material, its canonical AGE-SECRET-KEY-1...
//     encoding, not from the file's text: the identity file with
//     age-keygen's comment lines and the key line alone in the
//     environment variable give the same blind index and links. A key
//     check value, derived under its own label, is stored in the index
//     at the first start with an identity; the access service refuses
//     to start with an identity whose check differs (access.CheckKeys).
//   - The seam for an HSM or KMS is age.Identity: an identity whose
//     Unwrap asks the device for the file key, with the derived keys
//     supplied by New, replaces the file without other changes.
package keyring

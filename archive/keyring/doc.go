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
//   - The seam for an HSM or KMS is age.Identity: an identity whose
//     Unwrap asks the device for the file key, with the derived keys
//     supplied by New, replaces the file without other changes.
package keyring

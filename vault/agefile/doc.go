// Package agefile writes standard age files (age-encryption.org/v1) with
// one chunk buffer per file, encrypted in place.
//
// It is the sealing step of every recording: the vault hands it the
// record stream of a call and it hands the vault's file ciphertext. The
// files it writes are byte-for-byte the format filippo.io/age writes
// (header, 16-byte nonce, STREAM of 64 KiB ChaCha20-Poly1305 chunks, the
// last one flagged); the standard age tool and filippo.io/age's reader
// open them. It exists because age's own writer keeps a second, growing
// copy of each chunk, and a box with a thousand calls open holds a
// thousand of them.
//
// Invariants:
//   - The caller's buffer (at least BufferSize bytes) is the only place
//     plaintext lives: each chunk is sealed over itself and handed to the
//     destination in one Write; nothing is copied twice.
//   - A chunk reaches the destination only when it is full and more data
//     follows, or at Close (the last, flagged chunk). A file cut at any
//     point (a crash) therefore holds whole chunks that decrypt, followed
//     by a missing last chunk, which every age reader reports as a
//     truncated file: nothing false is ever read.
//   - After Close (or the first error) the Writer no longer touches the
//     buffer; the caller may reuse it.
//
// Fast replaces age's X25519 recipients by ones that wrap the file key
// the same way (the same stanza, read by every age implementation) with
// the ephemeral share taken from the Edwards curve's precomputed
// base-point table instead of a second Montgomery ladder: the box seals
// three files a call and two per call record, and X25519 was most of what
// sealing a burst of call records cost. It does the same for hybrid
// post-quantum recipients (age1pq1..., "mlkem768x25519": HPKE with
// MLKEM768-X25519), whose per-recipient work (the ML-KEM-768 key's
// matrix, the HPKE key schedule's constants) is done once; per file
// remain an ML-KEM encapsulation, the X25519 share from the table, one
// ladder and the key schedule. Header builds a header for a given file
// key (the archive's re-seal job).
//
// Buffers is a pool of chunk buffers kept outside the Go heap (anonymous
// memory mappings on Linux): they do not count towards the garbage
// collector's target, and a buffer given back is returned to the kernel,
// so the box's memory follows the calls open now, not the busiest hour.
package agefile

// Package vault is the appliance's encrypted, write-only recording store:
// where a call becomes a sealed recording, and where retention, legal hold,
// erasure and the audit trail are enforced.
//
// # Layout
//
//	DIR/vault.db            bbolt index: entries, sealed metadata, holds,
//	                        tombstones, sync state, audit chain
//	DIR/rec/xx/ID.age       one sealed recording per call (age file)
//	DIR/rec/xx/ID.age.part  a recording still being written
//	DIR/appliance.key       Ed25519 key that signs the audit chain head
//
// The vault is the call tracker's record.Recorder: it is handed a
// record.Draft of each call (numbers normalised, codecs named, streams
// summarised by the tracker) and the call's frames, and links nothing of
// the capture engine (TestVaultDependencies).
//
// # Sealing
//
// The box holds only public age recipients (the archive's and, optionally,
// a recovery key kept by the data-protection officer). Each recording is
// sealed as an age file (to hybrid post-quantum recipients, ML-KEM-768 +
// X25519, by default: spanvault keygen makes them; X25519 ones still
// work, never mixed with hybrid ones in one file: Open refuses such a
// set; ChaCha20-Poly1305 STREAM in 64 KiB chunks,
// fast on a Raspberry Pi 4 without AES instructions; written by
// vault/agefile with one buffer per open recording, sealed in place) as it
// is written, so the box can never read back what it wrote; the standard age tool decrypts a
// recording with the identity. Personal data needed in the index (numbers,
// names, Call-ID, addresses, DTMF digits) is sealed the same way in the
// sealed-metadata bucket. In clear the index keeps only what the box needs
// to run: opaque ID, times, duration, size, content hash, codecs, class,
// expiry, holds, sync state.
//
// # Why recordings are files and not bbolt values
//
// bbolt's file never shrinks: pages freed by deletes are reused but not
// returned to the file system, and retention deletes all day. A bbolt value
// must also be written whole in one transaction, while a recording grows
// for as long as the call lasts and must reach the disk in pieces. So audio
// lives in append-only files (written under a .part name, fsynced at most
// once a second, renamed when sealed, directory fsynced) and bbolt holds
// only small index records.
//
// # Crash safety
//
// A recording file is written in age chunks of 64 KiB; a crash loses only
// the chunk being filled (a few seconds of a call in progress). Through
// Async (the daemon's recorder) a call's start touches no disk on the
// capture goroutine: the recording is prepared in memory (its ID, entry,
// and the sealing writer, whose output is held) and the writer goroutine
// opens it: every entry queued since its last round in one bbolt
// transaction, then the .part files, then one directory fsync per
// directory, then the held output. The entry still comes before its
// file. Until it is open a recording's output is in memory only, so a
// crash in that window (milliseconds; as long as the writer lags) loses
// the call's start, as it would lose the chunk being filled. What is held
// for recordings not yet open is bounded (Options.MaxUnopened, 64 MiB):
// past it (a stalled card) the recording whose chunk would cross it is
// given up, counted and alerted, and its call kept as a call detail
// record, instead of the box running out of memory. On Open,
// every recording still marked as being written is recovered: its .part
// file is renamed, hashed and marked truncated; it reads up to its last
// complete chunk. A finished recording is acknowledged (Finish returns)
// only after its file and the index commit are both on disk.
//
// # Erasure and its limits
//
// An age file's content key exists only inside its header, wrapped to the
// recipients. Erasing a recording overwrites the whole file with zeros,
// fsyncs, and unlinks it, deletes its sealed metadata, and leaves a
// tombstone (when, why, by whom, no personal data in clear) of kind
// "erased"; every other deletion (retention, quota, fsck) leaves one of
// kind "removed", and the archive treats the two differently (sync/doc.go:
// it erases its own copy only for an erasure, and not while it holds the
// recording). Nothing left
// on the device decrypts it: the device never had an identity. Flash
// storage limits the guarantee: an SD card's wear levelling may keep old
// copies of the blocks out of reach of the overwrite, and bbolt keeps
// freed pages until it reuses them; what such remnants hold is ciphertext
// wrapped to the archive's key, so destroying a recording against the
// archive key's holder too is completed by the archive erasing its copy
// (crypto-shredding its key on locked storage) when the erasure's
// tombstone reaches it. Encrypting the card itself is the defence against
// a forensic read of those remnants by someone who later gets that key.
//
// # Disk quota
//
// The quota counts the recordings and the index (vault.db's blocks on
// disk). Above the high watermark the vault deletes, down to the low
// watermark, the call records of unanswered dialogs first (a flood's, if
// any got through: they never keep a recording out), then what the
// retention policy allows (synced first, oldest first), then other call
// records without media (archived ones first): recording beats
// call-record keeping. Unanswered dialogs, whatever their parties, are
// counted per minute per source, per dialled number and overall; beyond
// Options.Floods they are counted per hour instead of recorded one by one,
// which bounds the index's growth under any flood. When nothing may lawfully go, new recordings are
// refused loudly (an error state and an alert) and existing ones stay.
// The index is compacted (bbolt's Compact into a new file, fsynced, then
// renamed over vault.db) when a sweep or an eviction leaves an eighth of
// it free.
//
// # A damaged index
//
// No content of vault.db makes a command panic or the daemon stop
// recording. Before bbolt maps the file its page tree is walked (pages in
// range, each referred to once, keys and values inside their page, the
// freelist sane; bbolt trusts all of it); faults and assertions inside
// bbolt become a *DamagedError naming the file and page; the daemon's
// vault (OpenOrReplace) moves a damaged index aside, kept, and records into
// a fresh one, at start or when a page goes bad while it runs; an index
// that is missing or empty while recordings exist is damage too (alerted,
// audited); one deleted under the running daemon is written back from the
// open index (alerted, audited), one emptied under it is moved aside. fsck -repair does the same move itself, then salvages every
// record the set-aside file still holds, reading its pages without bbolt
// and without the check that rejected it (a bad page loses only what it
// held), and re-indexes every intact recording whose entry was lost (ID,
// start, size, hash, the default class, sync pending); a recording's
// personal metadata lost with the index is read from the copy sealed in
// its own file.
//
// # Concurrency
//
// A Vault is safe for concurrent use. The Recorder side (Start, Detail,
// Recording.Write) is meant to be driven by one capture goroutine; index
// reads and lifecycle operations may come from any goroutine. One process
// at a time: Open fails with ErrLocked while another holds the database.
package vault

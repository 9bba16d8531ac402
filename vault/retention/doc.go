// Package retention decides how long a recording is kept and whether a
// call is recorded at all: retention classes, the rules that pick a class
// per call, and the pure functions that say when a recording may be
// deleted. It holds no state and does no I/O, so every decision can be
// tested with a fake clock and audited by reading this file.
//
// The rules of deletion, in the order they apply:
//  1. A recording on legal hold is never deleted, by anything.
//  2. A recording older than its class's maximum age is deleted, synced
//     to the archive or not: the law that sets the maximum (GDPR storage
//     limitation) does not wait for the uplink. Except a class that must
//     reach the archive (must_sync, legal retention): an unacknowledged
//     recording of it is kept past its maximum age, and reported overdue,
//     until the archive acknowledges it, so that no maximum age (a central
//     policy's included) deletes what a law requires the archive to hold.
//  3. A recording the archive acknowledged is deleted once the class's
//     grace period after the acknowledgement has passed.
//  4. Otherwise it is kept. Under disk pressure, Evictable says what may
//     go early: synced recordings first, then (only where the class allows
//     it) unsynced ones; a class that must reach the archive is never
//     evicted before it has.
package retention

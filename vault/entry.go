package vault

import "github.com/spanvault/spanvault/record"

// The index record's types and constants are the box's and the archive's
// common contract; they live in package record (which see) and keep their
// names here.

// Entry states.
const (
	StateRecording = record.StateRecording // being written
	StateComplete  = record.StateComplete  // sealed and finished
	StateTruncated = record.StateTruncated // interrupted (crash, disk full); readable up to its last complete chunk
	StateCDR       = record.StateCDR       // call detail record only: no media stored
	StateErased    = record.StateErased    // deleted; only a tombstone remains
)

// Sync states (the sync client drives them; the vault only stores them).
const (
	SyncPending     = record.SyncPending
	SyncAcked       = record.SyncAcked
	SyncNotRequired = record.SyncNotRequired // nothing to send (call detail record)
)

// Entry is the clear part of an index record (record.Entry).
type Entry = record.Entry

// StreamStats are the per-stream figures kept in clear (record.StreamStats).
type StreamStats = record.StreamStats

// ClearEvent is a call event without personal content (record.ClearEvent).
type ClearEvent = record.ClearEvent

// Personal is the sealed part of an index record (record.Personal).
type Personal = record.Personal

// StreamAddrs are a stream's addresses (record.StreamAddrs).
type StreamAddrs = record.StreamAddrs

// Tombstone is what remains of an erased or expired recording
// (record.Tombstone).
type Tombstone = record.Tombstone

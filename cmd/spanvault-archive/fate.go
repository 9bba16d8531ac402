package main

import (
	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/sync/wire"
)

// fateOf adds to a line of `recordings` what became of the record after
// its box let it go: erased (only an erasure marks a recording deleted at
// the archive), removed from the box, and why.
func fateOf(l *listed, r index.Record) {
	if r.Kind != wire.KindTombstone && !r.DeletedAt.IsZero() {
		l.Erased = true
	}
	if !r.RemovedFromBoxAt.IsZero() {
		l.RemovedFromBoxAt = r.RemovedFromBoxAt.UTC().Format("2006-01-02T15:04:05Z")
	}
	l.Tombstone, l.Why = r.Tombstone, r.Why
}

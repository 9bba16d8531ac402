package archive

import (
	"context"
	"time"

	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/sync/wire"
)

// recordHealth keeps a check-in's health in the box's history (one row
// per hour, 30 days: index.RecordHealth), with the clock offset the
// archive measured itself. A failure is logged: the check-in stands.
func (a *Archive) recordHealth(ctx context.Context, name string, at time.Time, h wire.Health, offset time.Duration) {
	p := index.HealthPoint{At: at, Backlog: int64(h.Backlog), BacklogBytes: h.BacklogBytes, DiskUsed: h.DiskUsed, DiskTotal: h.DiskTotal,
		KernelDrops: int64(min(h.KernelDrops, 1<<62)), ClockSynced: h.ClockSynced, ClockOffset: offset.Seconds(), Version: h.Version}
	if err := a.Index.RecordHealth(ctx, name, p); err != nil {
		a.Logger.Error("fleet health history", "appliance", name, "err", err)
	}
	a.watchLegalOverdue(ctx, name, h.LegalOverdue) // legal_overdue.go
}

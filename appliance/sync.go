package appliance

import (
	"context"
	"time"

	"github.com/spanvault/spanvault/appliance/config"
	"github.com/spanvault/spanvault/appliance/firmware"
	"github.com/spanvault/spanvault/sync/client"
	"github.com/spanvault/spanvault/sync/wire"
	"github.com/spanvault/spanvault/vault"
)

// Version is reported to the archive at check-in.
var Version = "dev"

// SyncFailingAfter is how long sync may fail before the LED says so.
const SyncFailingAfter = 48 * time.Hour

// NewSyncClient makes the sync client the configuration describes.
// It reports the firmware running but takes no update (the daemon does).
func NewSyncClient(cfg *config.Config, v *vault.Vault) (*client.Client, error) {
	s := cfg.Sync
	cc := client.Config{
		Name: s.Name, Archives: s.Archives, Cert: s.Cert, Key: s.Key, CA: s.CA, AnchorKey: s.AnchorKey,
		Rate: int64(s.Rate), Version: Version, PolicyKey: s.PolicyKey,
	}
	if fw, err := firmware.ReadInfo(cfg.Update.Firmware, Version); err == nil {
		cc.Firmware = client.Firmware{Serial: fw.Serial, Arch: fw.Arch}
	}
	return client.New(cc, v)
}

// InWindow reports whether t (local time) is inside a "HH:MM-HH:MM"
// window; a window may wrap midnight. An empty window is always open.
func InWindow(window string, t time.Time) bool {
	if window == "" {
		return true
	}
	from, to, err := config.ParseWindow(window)
	if err != nil {
		return false
	}
	m := t.Hour()*60 + t.Minute()
	if from <= to {
		return m >= from && m < to
	}
	return m >= from || m < to
}

// syncer adapts the client to the status page.
type syncer struct {
	c       *client.Client
	started time.Time
	window  string
}

func (s *syncer) State() SyncState {
	st := s.c.State()
	since := st.LastSuccess
	if since.IsZero() {
		since = s.started
	}
	return SyncState{
		Configured:  true,
		LastSuccess: st.LastSuccess,
		Pending:     st.Backlog,
		Failing:     st.LastError != "" && time.Since(since) > SyncFailingAfter,
		Detail:      st,
		Window:      s.window,
	}
}

// runSync checks in every CheckInEvery and uploads inside the window or
// when the archive pulls.
func (a *Appliance) runSync(ctx context.Context, c *client.Client) {
	every := time.Duration(a.cfg.Sync.CheckInEvery)
	if every <= 0 {
		every = 5 * time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		a.syncOnce(ctx, c, InWindow(a.syncWindow(), time.Now()))
		if a.upd != nil && a.upd.rebooting() != nil {
			return // rebooting into a firmware update
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// syncOnce runs one pass (uploading when upload is set) and, when the
// archive pulled at its check-in, a second one at once. Each check-in
// reports the box's health as it is when sent.
func (a *Appliance) syncOnce(ctx context.Context, c *client.Client, upload bool) {
	err := c.Pass(ctx, client.Options{Upload: upload, HealthNow: a.health})
	if err != nil && ctx.Err() == nil {
		a.log.Warn("sync", "err", err)
	}
	defer a.updateAfterPass(ctx, c, upload, err) // firmware updates (update_run.go)
	// A pull delivered at this check-in runs at once.
	if c.PullRequested() && ctx.Err() == nil {
		if err := c.Pass(ctx, client.Options{Upload: true, HealthNow: a.health}); err != nil && ctx.Err() == nil {
			a.log.Warn("sync", "err", err)
		}
	}
}

// health is what the box reports at check-in: no personal data. Disk and
// clock are read when it is called (the first check-in runs before the
// status page's first refresh, whose figures were all zero then); the
// counters come from the last refresh (every two seconds).
func (a *Appliance) health() wire.Health {
	st := a.Status()
	usage := a.v.Usage()
	a.mu.Lock()
	overdue := a.sweep.Overdue // at the last retention sweep
	a.mu.Unlock()
	h := wire.Health{
		Version:       Version,
		KernelDrops:   st.Capture.KernelDrops,
		DiskUsed:      usage.Used,
		DiskTotal:     usage.Limit,
		ClockSynced:   a.clockOK.Load(),
		LED:           st.LED,
		RecordErrors:  st.Calls.RecordErrors,
		CallsRecorded: uint64(st.Calls.RecordedToday),
		AuditEntries:  st.Audit.Entries,

		// Today's calls recorded incomplete by the box (completeness.go).
		CallsIncompleteByUs: uint64(st.Calls.IncompleteByUsToday),

		LegalOverdue: uint64(max(overdue, 0)),
	}
	a.firmwareHealth(&h) // update_run.go
	return h
}

package appliance

import (
	"fmt"

	"github.com/spanvault/spanvault/appliance/config"
	"github.com/spanvault/spanvault/sync/client"
	"github.com/spanvault/spanvault/sync/wire"
	"github.com/spanvault/spanvault/vault/retention"
)

// Central policy on the running box (sync/client/policy.go verifies it):
// the retention classes, rules and legal retention go to the vault at
// once (the next sweep and recording decision follow them), the sync
// window and rate to the sync loop at its next pass; capture.extensions
// wait for the next start (reported as such). The policy applied last is
// applied again at start, before capture is set up, so that extensions
// take effect then.

// applyPolicy validates a policy with the box's own configuration
// validation and puts it in force.
func (a *Appliance) applyPolicy(d *wire.PolicyDoc) ([]string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.applyPolicyLocked(d)
}

func (a *Appliance) applyPolicyLocked(d *wire.PolicyDoc) ([]string, error) {
	// A policy is whole: what it leaves out is the box's own
	// configuration, not what an earlier policy set.
	if a.policyBase == nil {
		base := policyBase{retention: a.cfg.Retention, extensions: a.cfg.Capture.Extensions, window: a.cfg.Sync.Window, rate: a.cfg.Sync.Rate}
		a.policyBase = &base
	}
	cur := *a.cfg
	cur.Retention, cur.Capture.Extensions = a.policyBase.retention, a.policyBase.extensions
	cur.Sync.Window, cur.Sync.Rate = a.policyBase.window, a.policyBase.rate
	nc, restart, err := cur.ApplyPolicy(d)
	if err != nil {
		return nil, err
	}
	// A class an earlier policy made legal retention stays so: the box
	// holds recordings under it.
	if err := config.CheckLegalKept(a.policyBase.applied, &nc.Retention); err != nil {
		return nil, fmt.Errorf("policy %d: %w", d.Version, err)
	}
	// The vault takes its own copy; a.cfg.Retention, which the vault read
	// until now, is left as it is.
	ret := nc.Retention
	if _, err := a.v.SetPolicy(&ret); err != nil {
		return nil, err
	}
	a.policyBase.applied = &ret
	a.cfg.Capture.Extensions = nc.Capture.Extensions // read at the next start
	a.cfg.Sync.Window, a.cfg.Sync.Rate = nc.Sync.Window, nc.Sync.Rate
	if s, ok := a.sync.(*syncer); ok {
		s.window = nc.Sync.Window
		s.c.SetRate(int64(nc.Sync.Rate))
	}
	a.log.Info("central policy applied", "version", d.Version, "target", d.Target, "window", nc.Sync.Window, "restart", restart)
	return restart, nil
}

// policyBase is the box's own configuration of what a policy may set.
type policyBase struct {
	retention  retention.Policy
	extensions []string
	window     string
	rate       config.Size
	applied    *retention.Policy // the retention of the policy applied last
}

// syncWindow is the upload window in force.
func (a *Appliance) syncWindow() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cfg.Sync.Window
}

// newSyncClient makes the daemon's sync client, which applies central
// policies, and applies the one applied before the last stop.
func (a *Appliance) newSyncClient() (*client.Client, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.newSyncClientLocked()
}

func (a *Appliance) newSyncClientLocked() (*client.Client, error) {
	s := a.cfg.Sync
	cc := client.Config{
		Name: s.Name, Archives: s.Archives, Cert: s.Cert, Key: s.Key, CA: s.CA, AnchorKey: s.AnchorKey,
		Rate: int64(s.Rate), Version: Version, PolicyKey: s.PolicyKey, OnPolicy: a.applyPolicy,
	}
	a.updateClientConfig(&cc) // firmware updates (update_run.go)
	c, err := client.New(cc, a.v)
	if err != nil {
		return nil, err
	}
	d, err := c.StoredPolicy()
	if err != nil {
		a.log.Warn("the stored central policy does not verify: not applied", "err", err)
		return c, nil
	}
	if d != nil {
		if _, err := a.applyPolicyLocked(d); err != nil {
			a.log.Warn("the stored central policy is refused", "err", err)
		}
		c.SetRate(int64(a.cfg.Sync.Rate))
	}
	return c, nil
}

package index

import (
	"context"
	"fmt"
	"strings"
)

// allAppliances reads every appliance in one query, by name (what
// Appliances answers: the fleet's pages and its watch read the whole
// fleet, and one query per box grew with it).
func (x *Index) allAppliances(ctx context.Context) ([]*Appliance, error) {
	rows, err := x.db.QueryContext(ctx, `SELECT name, enrolled_at, revoked_at, revoke_reason, audit_key, last_checkin, health, anchored_seq, anchored_hash, bytes_received, tree_size FROM appliances ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("index: appliances: %w", err)
	}
	defer rows.Close()
	var out []*Appliance
	for rows.Next() {
		a := &Appliance{}
		var en, rv, lc string
		if err := rows.Scan(&a.Name, &en, &rv, &a.RevokeReason, &a.AuditKey, &lc, &a.Health, &a.AnchoredSeq, &a.AnchoredHash, &a.BytesReceived, &a.TreeSize); err != nil {
			return nil, fmt.Errorf("index: appliances: %w", err)
		}
		a.EnrolledAt, a.RevokedAt, a.LastCheckIn = parseTS(en), parseTS(rv), parseTS(lc)
		out = append(out, a)
	}
	return out, rows.Err()
}

// PolicyStates returns every box's policy state (PolicyState), by name,
// in one query.
func (x *Index) PolicyStates(ctx context.Context) (map[string]PolicyState, error) {
	rows, err := x.db.QueryContext(ctx, `SELECT name, policy_group, policy_version, policy_refused FROM appliances`)
	if err != nil {
		return nil, fmt.Errorf("index: policy states: %w", err)
	}
	defer rows.Close()
	out := map[string]PolicyState{}
	for rows.Next() {
		var name string
		var s PolicyState
		var v int64
		if err := rows.Scan(&name, &s.Group, &v, &s.Refused); err != nil {
			return nil, fmt.Errorf("index: policy states: %w", err)
		}
		s.Version = uint64(v)
		out[name] = s
	}
	return out, rows.Err()
}

// LatestPolicyVersions returns the newest policy version of every target
// ("box:NAME", "group:NAME") in one query: LatestPolicy's version for
// each.
func (x *Index) LatestPolicyVersions(ctx context.Context) (map[string]uint64, error) {
	rows, err := x.db.QueryContext(ctx, `SELECT target, MAX(version) FROM policies GROUP BY target`)
	if err != nil {
		return nil, fmt.Errorf("index: policy versions: %w", err)
	}
	defer rows.Close()
	out := map[string]uint64{}
	for rows.Next() {
		var t string
		var v int64
		if err := rows.Scan(&t, &v); err != nil {
			return nil, fmt.Errorf("index: policy versions: %w", err)
		}
		out[t] = uint64(v)
	}
	return out, rows.Err()
}

// TrendLines is HealthTrends with only what the fleet page draws, over
// the given spans of hour numbers (HourOf; [from, to), to 0 for no end):
// per bucket of `hours` hours, the largest backlog and disk use, the
// highest drop count, and whether the clock was synchronised throughout
// (Hour, BacklogMax, DiskUsed, KernelDrops, ClockSynced; the rest left
// zero). For a whole fleet's 30 days that is a fraction of what
// HealthTrends reads back.
func (x *Index) TrendLines(ctx context.Context, hours int64, spans ...[2]int64) (map[string][]HealthPoint, error) {
	if hours < 1 {
		hours = 1
	}
	if len(spans) == 0 || len(spans) > 4 {
		return nil, fmt.Errorf("index: health trends: %d spans", len(spans))
	}
	var conds []string
	args := []any{hours}
	for _, sp := range spans {
		if sp[1] == 0 {
			conds, args = append(conds, "hour >= ?"), append(args, sp[0])
		} else {
			conds, args = append(conds, "(hour >= ? AND hour < ?)"), append(args, sp[0], sp[1])
		}
	}
	rows, err := x.db.QueryContext(ctx, `SELECT appliance, hour / ? AS b, MAX(backlog_max), MAX(disk_used), MAX(kernel_drops), MIN(clock_synced)
FROM fleet_health WHERE `+strings.Join(conds, " OR ")+` GROUP BY appliance, b ORDER BY appliance, b`, args...)
	if err != nil {
		return nil, fmt.Errorf("index: health trends: %w", err)
	}
	defer rows.Close()
	out := map[string][]HealthPoint{}
	for rows.Next() {
		var name string
		var p HealthPoint
		var synced int64
		if err := rows.Scan(&name, &p.Hour, &p.BacklogMax, &p.DiskUsed, &p.KernelDrops, &synced); err != nil {
			return nil, fmt.Errorf("index: health trends: %w", err)
		}
		p.Hour *= hours
		p.ClockSynced = synced == 1
		out[name] = append(out[name], p)
	}
	return out, rows.Err()
}

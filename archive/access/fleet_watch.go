package access

import (
	"context"
	"fmt"
)

// watchAlerts is fleet_alerts as one pass of the fleet watch found it:
// the conditions raised per box and kind, and the last levels of the
// counters watched for growth (kind "last_NAME"). The watch writes only
// where a box's state changed, through fleetCondition and growth, which
// read the row again (another front-end may have written it meanwhile).
type watchAlerts struct {
	s    *Service
	rows map[[2]string]string // (appliance, kind) → raised_at, or the level
}

// fleetAlerts reads every row of fleet_alerts in one query.
func (s *Service) fleetAlerts(ctx context.Context) (*watchAlerts, error) {
	rows, err := s.db().QueryContext(ctx, `SELECT appliance, kind, raised_at FROM fleet_alerts`)
	if err != nil {
		return nil, fmt.Errorf("access: fleet alerts: %w", err)
	}
	defer rows.Close()
	al := &watchAlerts{s: s, rows: map[[2]string]string{}}
	for rows.Next() {
		var app, kind, v string
		if err := rows.Scan(&app, &kind, &v); err != nil {
			return nil, fmt.Errorf("access: fleet alerts: %w", err)
		}
		al.rows[[2]string{app, kind}] = v
	}
	return al, rows.Err()
}

// condition is fleetCondition, run only when the condition's state
// differs from the one read.
func (al *watchAlerts) condition(ctx context.Context, box, kind string, on bool, detail string) {
	if _, had := al.rows[[2]string{box, kind}]; had != on {
		al.s.fleetCondition(ctx, box, kind, on, detail)
	}
}

// growth is Service.growth, run only when the level changed (or none is
// kept yet); an unchanged level did not grow, which clears the condition.
func (al *watchAlerts) growth(ctx context.Context, b Box, name string, v int64) {
	if last, ok := al.rows[[2]string{b.Name, "last_" + name}]; !ok || last != fmt.Sprint(v) {
		al.s.growth(ctx, b, name, v)
		return
	}
	al.condition(ctx, b.Name, name+"_growing", false, "")
}

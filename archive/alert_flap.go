package archive

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// Conditions a box's check-in reports (legal_overdue.go, the clock
// skew in ingest.go) alert when they come, not at every check-in, and
// a condition that comes and goes raises at most one alert per box and
// kind in alertRepeat: fleet_alerts keeps, per box and kind, a row while
// the admin was last told the condition is on (kind), and the time of the
// last alert ("alerted_" + kind). When the condition comes back within
// alertRepeat of the last alert, the first check-in after that which
// still finds it raises it; the end of a condition the admin was told of
// is told at once.

// alertRepeat: one alert per box and kind in this period at most.
const alertRepeat = 24 * time.Hour

// conditionOn: box name reports condition kind. The alert (detail) is
// raised unless the admin was told already, or was alerted of it within
// alertRepeat. Of several front-ends, the one whose insert takes raises
// it. A failure is logged: the check-in stands.
func (a *Archive) conditionOn(ctx context.Context, name, kind, detail string) {
	db := a.Index.DB()
	now := a.Now().UTC()
	var v string
	switch err := db.QueryRowContext(ctx, `SELECT raised_at FROM fleet_alerts WHERE appliance = ? AND kind = ?`, name, kind).Scan(&v); {
	case err == nil:
		return // told
	case !errors.Is(err, sql.ErrNoRows):
		a.Logger.Error("fleet alert", "appliance", name, "kind", kind, "err", err)
		return
	}
	switch err := db.QueryRowContext(ctx, `SELECT raised_at FROM fleet_alerts WHERE appliance = ? AND kind = ?`, name, "alerted_"+kind).Scan(&v); {
	case err == nil:
		if last, err := time.Parse(time.RFC3339Nano, v); err == nil && !now.Before(last) && now.Sub(last) < alertRepeat {
			return // it came back soon after the last alert: the next check-in after alertRepeat raises it
		}
	case !errors.Is(err, sql.ErrNoRows):
		a.Logger.Error("fleet alert", "appliance", name, "kind", kind, "err", err)
		return
	}
	at := now.Format(time.RFC3339Nano)
	r, err := db.ExecContext(ctx, `INSERT INTO fleet_alerts (appliance, kind, raised_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, name, kind, at)
	if err != nil {
		a.Logger.Error("fleet alert", "appliance", name, "kind", kind, "err", err)
		return
	}
	if k, _ := r.RowsAffected(); k != 1 {
		return
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO fleet_alerts (appliance, kind, raised_at) VALUES (?, ?, ?) ON CONFLICT (appliance, kind) DO UPDATE SET raised_at = excluded.raised_at`,
		name, "alerted_"+kind, at); err != nil {
		a.Logger.Error("fleet alert", "appliance", name, "kind", kind, "err", err)
	}
	a.Event(ctx, kind, name, name, detail, true)
}

// conditionOff: box name no longer reports condition kind; if the admin
// was told it is on, kind_cleared (detail) tells them it ended.
func (a *Archive) conditionOff(ctx context.Context, name, kind, detail string) {
	r, err := a.Index.DB().ExecContext(ctx, `DELETE FROM fleet_alerts WHERE appliance = ? AND kind = ?`, name, kind)
	if err != nil {
		a.Logger.Error("fleet alert", "appliance", name, "kind", kind, "err", err)
		return
	}
	if k, _ := r.RowsAffected(); k == 1 {
		a.Event(ctx, kind+"_cleared", name, name, detail, false)
	}
}

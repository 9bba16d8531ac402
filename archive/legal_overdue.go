package archive

import (
	"context"
	"fmt"
	"time"
)

// Overdue legal recordings. A box keeps a recording of a legally
// retained class (must_sync) past its maximum age until the archive
// acknowledges it, and reports how many it keeps so at check-in
// (wire.Health.LegalOverdue). The archive raises one alert per box when
// the count becomes non-zero, naming the box and the count (the fleet
// shows the count as it changes), and notes when it is back to zero, so
// that a new occurrence alerts again. The condition is kept in
// fleet_alerts (one row per box and kind), so that several front-ends
// raise it once between them.

// alertLegalOverdue is the alert's kind (and fleet_alerts' key).
const alertLegalOverdue = "legal_overdue"

func (a *Archive) watchLegalOverdue(ctx context.Context, name string, n uint64) {
	db := a.Index.DB()
	if n > 0 {
		r, err := db.ExecContext(ctx, `INSERT INTO fleet_alerts (appliance, kind, raised_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
			name, alertLegalOverdue, a.Now().UTC().Format(time.RFC3339Nano))
		if err != nil {
			a.Logger.Error("legal retention alert", "appliance", name, "err", err)
			return
		}
		if k, _ := r.RowsAffected(); k == 1 {
			a.Event(ctx, alertLegalOverdue, name, name, fmt.Sprintf("%d recordings of a legally retained class past their maximum age are not at the archive yet: the box keeps them until they are; bring its sync up", n), true)
		}
		return
	}
	r, err := db.ExecContext(ctx, `DELETE FROM fleet_alerts WHERE appliance = ? AND kind = ?`, name, alertLegalOverdue)
	if err != nil {
		a.Logger.Error("legal retention alert", "appliance", name, "err", err)
		return
	}
	if k, _ := r.RowsAffected(); k == 1 {
		a.Event(ctx, alertLegalOverdue+"_cleared", name, name, "no recording of a legally retained class is past its maximum age on the box any more", false)
	}
}

package archive

import (
	"context"
	"fmt"
)

// Overdue legal recordings. A box keeps a recording of a legally
// retained class (must_sync) past its maximum age until the archive
// acknowledges it, and reports how many it keeps so at check-in
// (wire.Health.LegalOverdue). The archive raises one alert per box when
// the count becomes non-zero, naming the box and the count (the fleet
// shows the count as it changes), and notes when it is back to zero, so
// that a new occurrence alerts again, but a count that comes and goes
// at most once in alertRepeat (alert_flap.go). The condition is kept in
// fleet_alerts (rows per box and kind), so that several front-ends
// raise it once between them.

// alertLegalOverdue is the alert's kind (and fleet_alerts' key).
const alertLegalOverdue = "legal_overdue"

func (a *Archive) watchLegalOverdue(ctx context.Context, name string, n uint64) {
	if n > 0 {
		a.conditionOn(ctx, name, alertLegalOverdue, fmt.Sprintf("%d recordings of a legally retained class past their maximum age are not at the archive yet: the box keeps them until they are; bring its sync up", n))
		return
	}
	a.conditionOff(ctx, name, alertLegalOverdue, "no recording of a legally retained class is past its maximum age on the box any more")
}

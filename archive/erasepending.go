package archive

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spanvault/spanvault/archive/store"
)

// storeRefused says whether the store's erasure error is a refusal the
// archive keeps to (a legal hold or a legal retention duty on the object:
// the erasure is not done, not even in the index) rather than a failure
// left pending (storePending).
func storeRefused(err error) bool {
	return errors.Is(err, store.ErrHeld) || errors.Is(err, store.ErrLegal)
}

// storePending alerts (kind, by actor) an erasure the index applied (the
// recording unreachable: its tombstone, 410 at the access service) whose
// erasure in the store failed with err. The erasure note is kept, and the
// replay at every start (replayNote) tries the store's erasure again
// until the object is gone.
func (a *Archive) storePending(ctx context.Context, kind, actor string, n store.Erasure, err error) {
	a.Event(ctx, kind, actor, n.Appliance, fmt.Sprintf("%s: erased %s by %s, unreachable in the index, but the store's erasure is still pending (tried again at the next start): %v", n.ID, n.At.UTC().Format(time.RFC3339), n.By, err), true)
}

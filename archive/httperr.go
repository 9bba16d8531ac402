package archive

import (
	"net/http"

	"github.com/spanvault/spanvault/internal/httperr"
)

// internal answers a fault of the archive's own (index, store, log) to a
// box the sync protocol's way: 500, the generic message in the body and
// the Spanvault-Error header; the cause goes to the archive's log, never
// to the box (whose status page shows what it was told).
func (a *Archive) internal(w http.ResponseWriter, r *http.Request, err error) {
	wr := syncErrors
	wr.Logger = a.Logger
	wr.Write(w, r, httperr.Internal(err))
}

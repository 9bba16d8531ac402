package archive

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/spanvault/spanvault/archive/store"
	"github.com/spanvault/spanvault/sync/wire"
)

// The final lock at PUT (issue 26). A box sends its recording's class
// and start with the upload (wire.UploadMeta in Upload-Metadata); a store
// that can (store.LockAppender: S3) writes the object with the lock the
// record will ask for: the class's mode, and the date from the start by
// the archive's retention for the class, never earlier than the
// provisional lock. When the record arrives, admitRecording finds that
// lock in place and makes no retention call (no version listings, no
// lock requests). The record still decides: a record whose class asks
// for longer or for COMPLIANCE extends the lock as before, and nothing
// the upload said shortens or weakens what the record's class requires;
// holds are set only when the record arrives, by the archive's rules. An
// upload's claim can only make a lock longer or stricter than its record
// asks (a box that names another class at upload than in its record gets
// the stricter of the two, as a record never lowers what the store
// holds). The header object stays GOVERNANCE (crypto-shredding removes
// it with the governance bypass). An older box sends no metadata: its
// objects get the provisional lock and the record's call, as before.

// uploadLockAhead bounds the start an upload may claim: later than this
// past the archive's clock, and the metadata is ignored (the record's
// retention call decides), so that a box cannot have an object locked
// far into the future from a start it could not have recorded.
const uploadLockAhead = 24 * time.Hour

// uploadLock is the lock the upload's metadata asks for, if any.
func (a *Archive) uploadLock(r *http.Request) (store.Retention, bool) {
	m, ok, err := wire.ParseUploadMeta(r.Header.Get(wire.HeaderMetadata))
	if err != nil || !ok || m.Start.After(a.Now().Add(uploadLockAhead)) {
		return store.Retention{}, false
	}
	return store.Retention{Until: m.Start.Add(a.Config.retentionOf(m.Class)), Mode: a.Config.lockMode(m.Class)}, true
}

// appendUpload appends an upload's bytes to box's partial of sum, with
// the final lock at PUT where the box sent its class and the store can;
// unclaimed says no box owned the object when the upload began.
func (a *Archive) appendUpload(ctx context.Context, r *http.Request, box, sum string, off, length int64, body io.Reader, unclaimed bool) (store.Info, int64, error) {
	if la, ok := a.Store.(store.LockAppender); ok {
		want, _ := a.uploadLock(r)
		return la.AppendWith(ctx, box, sum, off, length, body, store.Upload{Lock: want, Unclaimed: unclaimed})
	}
	return a.Store.AppendFor(ctx, box, sum, off, length, body)
}

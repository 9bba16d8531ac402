package archive

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/spanvault/spanvault/archive/store"
	"github.com/spanvault/spanvault/sync/wire"
)

// The lock at PUT (issue 26). A box sends its recording's class and
// start with the upload (wire.UploadMeta in Upload-Metadata); a store
// that can (store.LockAppender: S3) writes the object at once with the
// date the record will ask for: the start plus the archive's retention
// for the class, never earlier than the provisional lock. The mode is
// always GOVERNANCE: the upload's claim is not the record, and a
// COMPLIANCE lock cannot be undone, so nothing a box says before its
// record can make the archive keep an object it would otherwise erase.
// When the record arrives, admitRecording sets what the record's class
// requires (keepUntil): for a GOVERNANCE class whose claim matched, the
// lock is in place and no retention call is made (no version listings,
// no lock requests); a class in legal_retention costs one call that
// turns the payload's lock to COMPLIANCE; a record asking for longer
// extends the date; a claim longer than the record (and than any other
// record of the object needs) is shortened to what the record requires,
// with the governance bypass the archive holds. Holds are set only when
// the record arrives, by the archive's rules. The header object stays
// GOVERNANCE (crypto-shredding removes it with the governance bypass),
// and erasure is decided on the index (eraseObject), not on the
// payload's lock. An older box sends no metadata: its objects get the
// provisional lock and the record's call, as before.

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
	// GOVERNANCE whatever the class: the record's call sets COMPLIANCE
	// for a legal class (a box's claim never makes a lock irreversible).
	return store.Retention{Until: m.Start.Add(a.Config.retentionOf(m.Class)), Mode: store.Governance}, true
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

package store

import (
	"context"
	"io"
	"time"
)

// LockAppender is a store that can write an upload's object with a lock
// at once, when the archive knows one before the record arrives (the box
// sent the recording's class and start with the upload: the archive asks
// for the class's date, GOVERNANCE, as a box's claim never sets
// COMPLIANCE): where the record asks for the same, its retention call
// finds nothing to change and asks the bucket nothing. The S3 backend implements it; the directory backend
// writes its small retention file when the record arrives, as before.
type LockAppender interface {
	// AppendWith is AppendFor, the object written with u's lock (never
	// less than the provisional lock; the hold is not set here: holds
	// are the archive's, decided when the record arrives).
	AppendWith(ctx context.Context, box, sum string, offset, length int64, r io.Reader, u Upload) (Info, int64, error)
}

// Upload is what the archive knows of an upload beyond its bytes.
type Upload struct {
	// Lock is the lock the archive asks for from the box's claim (zero:
	// provisional).
	Lock Retention
	// Unclaimed: no box owned the object when the upload began (the
	// index's claim), so no record named it, and it was never erased or
	// re-sealed: publish need not look for that before writing.
	Unclaimed bool
}

// AppendWith implements LockAppender.
func (s *S3) AppendWith(ctx context.Context, box, sum string, offset, length int64, r io.Reader, u Upload) (Info, int64, error) {
	return s.staging.appendFor(ctx, box, sum, offset, length, r, u)
}

var _ LockAppender = (*S3)(nil)

// lockAtPut is the lock an object is written with: the payload gets
// want's mode (GOVERNANCE when none is known), the date is want's or the
// provisional one, whichever is later (what the records handler keeps:
// it never shortens a date the store holds), rounded up to the second
// the bucket keeps, so that the record's want compares equal. The header
// is always GOVERNANCE with the same date: erasure (crypto-shredding)
// removes it with the governance bypass whatever the payload's mode.
func (s *S3) lockAtPut(want Retention) (mode string, until time.Time) {
	until = time.Now().Add(s.Provisional)
	mode = Governance
	if want.Mode != "" {
		mode = want.Mode
		if want.Until.After(until) {
			until = want.Until
		}
	}
	return mode, ceilSecond(until.UTC())
}

// ceilSecond rounds t up to a whole second.
func ceilSecond(t time.Time) time.Time {
	if r := t.Truncate(time.Second); !r.Equal(t) {
		return r.Add(time.Second)
	}
	return t
}

// HeaderKeeper is a store that keeps the age header of an object it has
// just published, so that the upload's own request can read it without
// asking the bucket (the archive notes the object's sealing from it).
type HeaderKeeper interface {
	// PublishedHeader returns the header of sum if this store published
	// it within the last seconds (nothing is asked of the bucket: an
	// erasure elsewhere since is not seen, so it is for bookkeeping of
	// the upload itself, never for serving).
	PublishedHeader(sum string) ([]byte, bool)
}

// PublishedHeader implements HeaderKeeper.
func (s *S3) PublishedHeader(sum string) ([]byte, bool) {
	f, ok := s.freshOf(sum, freshOpen)
	if !ok {
		return nil, false
	}
	return f.hdr, true
}

var _ HeaderKeeper = (*S3)(nil)

// headerGone reports whether sum's header/ object must stay gone: the
// recording was re-sealed (reseal/SUM holds the archive's header now:
// resealOf) or erased
// (the archive's own erasure note, erasures/SUM, is there: noted).
func (s *S3) headerGone(ctx context.Context, sum string) (bool, error) {
	rv, err := s.versions(ctx, resealedKey(sum))
	if err != nil {
		return false, err
	}
	if len(rv) > 0 {
		pv, err := s.versions(ctx, payloadKey(sum))
		if err != nil {
			return false, err
		}
		if _, _, ok, err := s.resealOf(ctx, sum, rv, pv); err != nil || ok {
			return ok, err
		}
	}
	return s.noted(ctx, sum)
}

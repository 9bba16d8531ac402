package store

import (
	"context"
	"time"
)

// Shredder is a store whose erasure can be decided by the archive's index
// rather than by the payload's lock: Shred removes an object's header (the
// wrapped file key, always GOVERNANCE) whatever mode the payload's lock
// has, refusing only a legal hold (ErrHeld). A lock it cannot read
// (someone else's version beside the archive's payload that it cannot
// remove: ErrLockUnknown for Erase and Delete) does not stop it: the
// archive's own header versions are removed by their IDs, and the
// foreign version alerted. The archive calls it only for
// an object no live record of which is held or under a legal retention
// duty; the payload stays locked until its date, when Delete removes it.
type Shredder interface {
	Shred(ctx context.Context, sum string) error
}

// Shred implements Shredder: Erase without the refusal under COMPLIANCE.
func (s *S3) Shred(ctx context.Context, sum string) error {
	return s.erase(ctx, sum, time.Time{}, false)
}

var _ Shredder = (*S3)(nil)

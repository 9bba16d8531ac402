package archive

import (
	"context"

	"github.com/spanvault/spanvault/archive/store"
)

// watchStore raises what the S3 store finds in its bucket that the
// archive did not write (a version someone with the bucket's write
// access put before or beside the archive's: store/s3foreign.go) as an
// alert in the archive's trail ("store_foreign_version").
func (a *Archive) watchStore() {
	if s, ok := a.Store.(*store.S3); ok {
		s.Alert = func(detail string) {
			a.Event(context.Background(), "store_foreign_version", "store", "", detail, true)
		}
		a.storeEvidence(s)
	}
}

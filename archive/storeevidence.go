package archive

import (
	"crypto/ed25519"
	"errors"

	"github.com/spanvault/spanvault/archive/store"
)

// storeEvidence lets the S3 store tell the archive's own erasure notes
// and re-sealed headers from what someone else wrote to the bucket
// (store/s3evidence.go, store/s3resealed.go): it takes a note for an
// erasure only when its signature verifies under the archive's erasure
// key (erasurenote.go), and reseal/<sum> for a header only when the
// index recorded its hash (index.Resealing, written before the store's
// Reseal).
func (a *Archive) storeEvidence(s *store.S3) {
	s.Resealing = a.Index.Resealing
	s.VerifyNote = func(n store.Erasure) error {
		k, err := a.erasureKey()
		if err != nil {
			return err
		}
		if why := unverified(n, k.Public().(ed25519.PublicKey)); why != "" {
			return errors.New(why)
		}
		return nil
	}
}

package access

import (
	"context"
	"crypto/subtle"
	"fmt"
	"time"

	"github.com/spanvault/spanvault/archive/index"
)

// CheckKeys makes sure the service's keyring is the one the index's
// blind index and streaming links are keyed to, before anything is
// served (Serve calls it; spanvault-archive serve calls it before it
// starts listening). Without a keyring there is nothing to check.
//
//   - A key check is stored (package keyring's Check): the keyring's
//     must equal it, or the service refuses to start and says which
//     identity it was given and which one the index expects.
//   - None is stored (a new archive, or one from before key checks):
//     an identity that opens none of a sample of the archive's sealed
//     metadata is refused (it is not this archive's); otherwise the
//     check is stored. If the blind index already holds terms, they may
//     have been derived from the identity file's text (before keys came
//     from key material), so the blind index is rebuilt: every term is
//     dropped and every record queued again; the indexer rewrites them
//     in the background, and every search indexes what is queued first,
//     so searches stay complete. Streaming links minted before then by
//     a service that read an identity file with comment lines no longer
//     verify: they last at most max_link_ttl; mint them again.
func (s *Service) CheckKeys(ctx context.Context) error {
	if s.Keys == nil {
		return nil
	}
	for range 2 {
		c, ok, err := s.A.Index.KeyCheck(ctx)
		if err != nil {
			return fmt.Errorf("access: key check: %w", err)
		}
		if ok {
			if subtle.ConstantTimeCompare([]byte(c.Value), []byte(s.Keys.Check())) == 1 {
				return nil
			}
			msg := fmt.Sprintf("the identity from %s (public key %s) is not this archive's identity: the index's blind index and streaming links are keyed to the identity with public key %s (key check stored %s, from %s). Start the access service with that identity (-identity FILE, or $SPANVAULT_ARCHIVE_IDENTITY with its AGE-SECRET-KEY-1... line)",
				s.source(), s.Keys.Recipient(), c.Recipient, c.SetAt.UTC().Format(time.RFC3339), c.Source)
			s.audit(ctx, "key_check_failed", "access", "", msg, true)
			return fmt.Errorf("access: %s", msg)
		}
		sample, err := s.A.Index.SealedSample(ctx, 8)
		if err != nil {
			return fmt.Errorf("access: key check: %w", err)
		}
		opens := len(sample) == 0
		for _, b := range sample {
			if _, err := s.Keys.Decrypt(b); err == nil {
				opens = true
				break
			}
		}
		if !opens {
			msg := fmt.Sprintf("the identity from %s (public key %s) opens none of this archive's sealed metadata: it is not this archive's identity (the one whose public key the boxes seal to). Start the access service with that identity", s.source(), s.Keys.Recipient())
			s.audit(ctx, "key_check_failed", "access", "", msg, true)
			return fmt.Errorf("access: %s", msg)
		}
		stored, rebuilt, err := s.A.Index.SetKeyCheck(ctx, index.KeyCheck{Value: s.Keys.Check(), Recipient: s.Keys.Recipient(), Source: s.source(), SetAt: s.now()})
		if err != nil {
			return fmt.Errorf("access: key check: %w", err)
		}
		if !stored {
			continue // another front-end stored one first: compare with it
		}
		// The row itself says when, from where and for which public key.
		s.A.Logger.Info("key check stored", "recipient", s.Keys.Recipient(), "source", s.source())
		if rebuilt {
			s.audit(ctx, "blind_index_rebuild", "access", "", "the blind index was written before key checks (its keys may have come from the identity file's text): every term dropped, every record queued to be indexed again from its sealed metadata", false)
		}
		return nil
	}
	return fmt.Errorf("access: key check: stored and gone again")
}

func (s *Service) source() string {
	if src := s.Keys.Source(); src != "" {
		return src
	}
	return "the keyring given"
}

package vault

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/spanvault/spanvault/vault/audit"
	"github.com/spanvault/spanvault/vault/retention"
)

// policy is the retention policy in force: the one SetPolicy set last,
// else Options.Policy.
func (v *Vault) policy() *retention.Policy {
	if p := v.livePolicy.Load(); p != nil {
		return p
	}
	return v.opt.Policy
}

// SetPolicy puts a new retention policy in force while the vault runs (a
// central policy from the archive): the next sweep, eviction and
// recording decision follow it. Each stored recording's expiry is
// computed again from its class under the new policy (its maximum age
// from its start, or its grace period from the archive's acknowledgement
// when that is sooner), so that a class shortened or lengthened applies
// to what the box holds, not only to new calls; call records keep theirs.
// It is validated first; the caller must not change p afterwards. It
// returns how many expiries moved (audited as policy_retention).
func (v *Vault) SetPolicy(p *retention.Policy) (int, error) {
	if err := p.Validate(); err != nil {
		return 0, fmt.Errorf("vault: policy: %w", err)
	}
	v.livePolicy.Store(p)
	moved := 0
	err := v.update(func(tx *bolt.Tx) error {
		var changed []*Entry
		var olds []*Entry
		err := tx.Bucket(bEntries).ForEach(func(k, b []byte) error {
			var e Entry
			if err := json.Unmarshal(b, &e); err != nil {
				return nil // a damaged entry is fsck's, not the policy's
			}
			if e.State == StateErased || e.State == StateCDR || e.State == StateRecording {
				return nil
			}
			cl, ok := p.Class(e.Class)
			if !ok {
				return nil
			}
			want := retention.Expiry(cl, e.Start)
			if !e.AckedAt.IsZero() {
				if g := e.AckedAt.Add(time.Duration(cl.Grace)); want.IsZero() || g.Before(want) {
					want = g
				}
			}
			if want.Equal(e.Expiry) {
				return nil
			}
			old := e
			ne := e
			ne.Expiry = want
			changed, olds = append(changed, &ne), append(olds, &old)
			return nil
		})
		if err != nil {
			return err
		}
		for i := range changed {
			if err := putEntry(tx, changed[i], olds[i]); err != nil {
				return err
			}
		}
		moved = len(changed)
		if moved == 0 {
			return nil
		}
		return v.audit(tx, audit.Entry{Action: "policy_retention", Actor: "archive", Detail: fmt.Sprintf("retention policy changed: the expiry of %d recordings computed again", moved)})
	})
	v.changed()
	return moved, err
}

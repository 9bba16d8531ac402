package vault

import (
	"fmt"

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
// recording decision follow it. It is validated first; the caller must
// not change p afterwards.
func (v *Vault) SetPolicy(p *retention.Policy) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("vault: policy: %w", err)
	}
	v.livePolicy.Store(p)
	return nil
}

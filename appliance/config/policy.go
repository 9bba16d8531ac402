package config

import (
	"errors"
	"fmt"
	"slices"

	"github.com/BurntSushi/toml"

	"github.com/spanvault/spanvault/sync/wire"
	"github.com/spanvault/spanvault/vault/retention"
)

// Central policy (wire.PolicyDoc): the settings an archive may set on a
// box, in the box's own configuration syntax. Retention (classes, rules,
// default class, legal retention) and the sync window and rate apply
// while the box runs; capture.extensions at its next start
// (PolicyRestart).
type policyFragment struct {
	Retention *retention.Policy `toml:"retention"`
	Capture   *struct {
		Extensions *[]string `toml:"extensions"`
	} `toml:"capture"`
	Sync *struct {
		Window *string `toml:"window"`
		Rate   *Size   `toml:"rate"`
	} `toml:"sync"`
}

// PolicyRestart lists the settings a policy may set that take effect at
// the box's next start.
var PolicyRestart = []string{"capture.extensions"}

// ApplyPolicy returns the configuration with a policy's settings in place
// of the box's, validated as the box's own configuration is, and the
// changed settings that need a restart. A setting the policy may not set
// (anything outside retention, capture.extensions, sync.window and
// sync.rate) refuses the whole policy, and so does one that weakens a
// class c holds as legal retention (CheckLegalFloor); c is not changed.
func (c *Config) ApplyPolicy(d *wire.PolicyDoc) (*Config, []string, error) {
	var f policyFragment
	md, err := toml.Decode(d.Config, &f)
	if err != nil {
		return nil, nil, fmt.Errorf("policy %d: %w", d.Version, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, nil, fmt.Errorf("policy %d: %s: not a setting a policy may change", d.Version, und[0].String())
	}
	nc := *c
	var restart []string
	if f.Retention != nil {
		p := *f.Retention
		if len(p.Classes) == 0 {
			return nil, nil, fmt.Errorf("policy %d: retention: no classes", d.Version)
		}
		nc.Retention = p
	}
	if len(d.LegalRetention) > 0 {
		nc.Retention.Classes = slices.Clone(nc.Retention.Classes)
		for _, name := range d.LegalRetention {
			i := slices.IndexFunc(nc.Retention.Classes, func(cl retention.Class) bool { return cl.Name == name })
			if i < 0 {
				return nil, nil, fmt.Errorf("policy %d: legal_retention: no class %q", d.Version, name)
			}
			// Kept until the archive holds it, never evicted before.
			nc.Retention.Classes[i].MustSync = true
			nc.Retention.Classes[i].EvictUnsynced = false
		}
	}
	if err := CheckLegalFloor(&c.Retention, &nc.Retention); err != nil {
		return nil, nil, fmt.Errorf("policy %d: %w", d.Version, err)
	}
	if f.Capture != nil && f.Capture.Extensions != nil {
		nc.Capture.Extensions = *f.Capture.Extensions
		if !slices.Equal(nc.Capture.Extensions, c.Capture.Extensions) {
			restart = append(restart, "capture.extensions")
		}
	}
	if f.Sync != nil {
		if f.Sync.Window != nil {
			nc.Sync.Window = *f.Sync.Window
		}
		if f.Sync.Rate != nil {
			nc.Sync.Rate = *f.Sync.Rate
		}
	}
	if err := nc.Validate(); err != nil {
		return nil, nil, fmt.Errorf("policy %d: %w", d.Version, err)
	}
	if nc.Retention.Classes == nil {
		return nil, nil, errors.New("policy: retention: no classes")
	}
	return &nc, restart, nil
}

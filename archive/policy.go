package archive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/sync/wire"
)

// Central policy (sync/doc.go, Policy). The archive keeps each box's
// policy as signed, versioned documents (wire.PolicyDoc) for the box
// ("box:NAME") or for its group ("group:NAME"; a box's own policy comes
// first), signed with its policy key (policykey.go), which boxes pin.
// Versions are unique across the archive and only grow. At check-in the
// box reports the version it applied and its last refusal; the archive
// sends the policy in force when it is newer than the one applied and
// was not refused, records what the box reported, and audits every
// application and, as an alert, every refusal.

// SetPolicy signs and stores a new version of a target's policy (config:
// the box's configuration syntax, the sections a policy may set; the box
// validates the settings). It returns the version.
func (a *Archive) SetPolicy(ctx context.Context, target, config string, legal []string, by string) (uint64, error) {
	if !wire.ValidPolicyTarget(target) {
		return 0, fmt.Errorf("archive: policy target %q: box:NAME or group:NAME", target)
	}
	if name, ok := strings.CutPrefix(target, "box:"); ok {
		if _, err := a.Index.Appliance(ctx, name); err != nil {
			return 0, err
		}
	}
	var probe map[string]any
	if _, err := toml.Decode(config, &probe); err != nil {
		return 0, fmt.Errorf("archive: policy: %w", err)
	}
	key, err := a.policyKey()
	if err != nil {
		return 0, err
	}
	for try := 0; ; try++ {
		v, err := a.Index.NextPolicyVersion(ctx)
		if err != nil {
			return 0, err
		}
		sp, err := wire.SignPolicy(key, wire.PolicyDoc{Target: target, Version: v, Issued: a.Now().UTC(), By: by, Config: config, LegalRetention: legal})
		if err != nil {
			return 0, fmt.Errorf("archive: %w", err)
		}
		doc, _ := json.Marshal(sp)
		err = a.Index.AddPolicy(ctx, index.Policy{Target: target, Version: v, Doc: string(doc), SetAt: a.Now(), SetBy: by})
		if err != nil && try < 3 {
			continue // the version was taken by another front-end
		}
		if err != nil {
			return 0, err
		}
		a.Event(ctx, "policy_set", by, strings.TrimPrefix(target, "box:"), fmt.Sprintf("policy version %d for %s", v, target), false)
		return v, nil
	}
}

// SetPolicyGroup puts a box in a policy group ("": none).
func (a *Archive) SetPolicyGroup(ctx context.Context, name, group string) error {
	return a.SetPolicyGroupBy(ctx, name, group, "admin")
}

// SetPolicyGroupBy is SetPolicyGroup, the trail naming by.
func (a *Archive) SetPolicyGroupBy(ctx context.Context, name, group, by string) error {
	if group != "" && !wire.ValidPolicyTarget("group:"+group) {
		return fmt.Errorf("archive: policy group %q", group)
	}
	if err := a.Index.SetPolicyGroup(ctx, name, group); err != nil {
		return err
	}
	a.Event(ctx, "policy_group", by, name, fmt.Sprintf("policy group %q", group), false)
	return nil
}

// PolicyFor returns the policy in force for a box: its own newest, else
// its group's newest (index.ErrNoPolicy when neither).
func (a *Archive) PolicyFor(ctx context.Context, name string) (*index.Policy, *wire.SignedPolicy, error) {
	p, err := a.Index.LatestPolicy(ctx, "box:"+name)
	if errors.Is(err, index.ErrNoPolicy) {
		st, serr := a.Index.PolicyState(ctx, name)
		if serr != nil {
			return nil, nil, serr
		}
		if st.Group == "" {
			return nil, nil, index.ErrNoPolicy
		}
		p, err = a.Index.LatestPolicy(ctx, "group:"+st.Group)
	}
	if err != nil {
		return nil, nil, err
	}
	var sp wire.SignedPolicy
	if err := json.Unmarshal([]byte(p.Doc), &sp); err != nil {
		return nil, nil, fmt.Errorf("archive: stored policy %s v%d: %w", p.Target, p.Version, err)
	}
	return p, &sp, nil
}

// policyCheckIn records what a box reported of its policy and returns the
// policy to send it (nil when it applied it or refused it already).
func (a *Archive) policyCheckIn(ctx context.Context, name string, rep *wire.PolicyReport) (*wire.SignedPolicy, error) {
	st, err := a.Index.PolicyState(ctx, name)
	if err != nil {
		return nil, err
	}
	var r wire.PolicyReport
	if rep != nil {
		r = *rep
		refused := ""
		if r.Refused != 0 || r.Reason != "" {
			refused = strconv.FormatUint(r.Refused, 10) + " " + r.Reason
		}
		if r.Applied != st.Version || refused != st.Refused {
			if err := a.Index.ReportPolicy(ctx, name, r.Applied, refused); err != nil {
				return nil, err
			}
			if r.Applied != st.Version {
				detail := fmt.Sprintf("policy version %d applied", r.Applied)
				if len(r.Restart) > 0 {
					detail += "; at the box's next start: " + strings.Join(r.Restart, ", ")
				}
				a.Event(ctx, "policy_applied", name, name, detail, false)
			}
			if refused != "" && refused != st.Refused {
				a.Event(ctx, "policy_refused", name, name, fmt.Sprintf("policy version %d refused by the box: %s", r.Refused, r.Reason), true)
			}
		}
	}
	p, sp, err := a.PolicyFor(ctx, name)
	if errors.Is(err, index.ErrNoPolicy) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if rep == nil || p.Version <= r.Applied || p.Version == r.Refused {
		return nil, nil // an old box (no report), applied, or refused (said so above)
	}
	return sp, nil
}

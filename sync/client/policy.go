package client

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/time/rate"

	"github.com/spanvault/spanvault/sync/wire"
)

// Central policy on the box (wire.PolicyDoc). The check-in reply may
// carry the box's policy; the client verifies it against the pinned
// policy key (Config.PolicyKey), refuses a version that does not move
// forward or that names another box, and hands the document to
// Config.OnPolicy, which validates and applies it (the appliance's own
// configuration validation). The applied document is kept in the vault's
// sync state (re-applied at start, StoredPolicy); every application and
// refusal is in the box's audit chain, and the next check-in reports the
// version applied and the last refusal with its reason.

// Keys of the client's policy state in the vault.
const (
	metaPolicyApplied = "policy_applied" // version, decimal
	metaPolicyDoc     = "policy_doc"     // the signed policy applied, JSON
	metaPolicyRefused = "policy_refused" // "VERSION reason"
	metaPolicyRestart = "policy_restart" // settings that wait for a start, comma-separated
)

func (c *Client) loadPolicyKey() error {
	if c.cfg.PolicyKey == "" {
		return nil
	}
	b, err := os.ReadFile(c.cfg.PolicyKey)
	if err != nil {
		return fmt.Errorf("sync: policy_key: %w", err)
	}
	k, err := wire.ParsePolicyKey(string(b))
	if err != nil {
		return fmt.Errorf("sync: policy_key %s: %w", c.cfg.PolicyKey, err)
	}
	c.policyKey = k
	return nil
}

func (c *Client) metaString(key string) string {
	b, _ := c.v.SyncMeta(key)
	return string(b)
}

// PolicyReport is what the next check-in says of the policy.
func (c *Client) PolicyReport() wire.PolicyReport {
	var r wire.PolicyReport
	r.Applied, _ = strconv.ParseUint(c.metaString(metaPolicyApplied), 10, 64)
	if v, why, ok := strings.Cut(c.metaString(metaPolicyRefused), " "); ok {
		r.Refused, _ = strconv.ParseUint(v, 10, 64)
		r.Reason = why
	}
	if s := c.metaString(metaPolicyRestart); s != "" {
		r.Restart = strings.Split(s, ",")
	}
	return r
}

// StoredPolicy returns the policy applied last (verified again), or nil.
func (c *Client) StoredPolicy() (*wire.PolicyDoc, error) {
	b, err := c.v.SyncMeta(metaPolicyDoc)
	if err != nil || len(b) == 0 {
		return nil, err
	}
	var sp wire.SignedPolicy
	if err := json.Unmarshal(b, &sp); err != nil {
		return nil, fmt.Errorf("sync: stored policy: %w", err)
	}
	return wire.VerifyPolicy(c.policyKey, sp)
}

// handlePolicy verifies and applies a policy from a check-in reply. It
// reports whether the box's policy state changed (applied or refused).
func (c *Client) handlePolicy(sp *wire.SignedPolicy) (bool, error) {
	if sp == nil || c.cfg.OnPolicy == nil {
		return false, nil // nothing sent, or not the daemon (spanvault sync): the daemon applies it
	}
	applied := c.PolicyReport().Applied
	d, err := wire.VerifyPolicy(c.policyKey, *sp)
	var version uint64
	if d != nil {
		version = d.Version
	} else {
		// The number it claims, to report which one was refused (nothing
		// else of an unverified document is used).
		var claimed struct {
			Version uint64 `json:"version"`
		}
		_ = json.Unmarshal(sp.Doc, &claimed) // a document that does not decode is reported as version 0
		version = claimed.Version
	}
	switch {
	case err != nil:
	case d.Version == applied:
		return false, nil // applied already (a repeated reply)
	case d.Version < applied:
		err = fmt.Errorf("policy: version %d is older than version %d applied", d.Version, applied)
	case strings.HasPrefix(d.Target, "box:") && d.Target != "box:"+c.cfg.Name:
		err = fmt.Errorf("policy: version %d is for %s, not this box", d.Version, d.Target)
	}
	var restart []string
	if err == nil {
		restart, err = c.cfg.OnPolicy(d)
	}
	if err != nil {
		if prev := c.PolicyReport(); prev.Refused == version && prev.Reason == err.Error() {
			return false, nil // refused already, and said so
		}
		if e := c.v.SetSyncMeta(metaPolicyRefused, []byte(strconv.FormatUint(version, 10)+" "+err.Error())); e != nil {
			return false, e
		}
		return true, c.v.Audit("policy_refused", "archive", "", err.Error())
	}
	doc, _ := json.Marshal(sp)
	for k, v := range map[string]string{metaPolicyDoc: string(doc), metaPolicyRestart: strings.Join(restart, ","), metaPolicyApplied: strconv.FormatUint(d.Version, 10)} {
		if err := c.v.SetSyncMeta(k, []byte(v)); err != nil {
			return false, err
		}
	}
	detail := fmt.Sprintf("policy version %d (%s, by %s) applied", d.Version, d.Target, d.By)
	if len(restart) > 0 {
		detail += "; at the next start: " + strings.Join(restart, ", ")
	}
	return true, c.v.Audit("policy_applied", "archive:"+d.By, "", detail)
}

// SetRate changes the upload cap (bytes per second; 0: none) from the
// next upload on.
func (c *Client) SetRate(n int64) {
	if n <= 0 {
		c.limiter.SetLimit(rate.Inf)
		return
	}
	c.limiter.SetBurst(int(min(n, 64<<10)))
	c.limiter.SetLimit(rate.Limit(n))
}

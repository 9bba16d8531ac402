package retention

import (
	"fmt"
	"hash/fnv"
	"time"

	"github.com/spanvault/spanvault/internal/units"
	"github.com/spanvault/spanvault/record"
)

// Duration is a time.Duration that also reads days ("90d") and years
// ("7y", 365 days each) from configuration (units.Duration).
type Duration = units.Duration

// ParseDuration parses a duration with the extra units d, w and y
// (units.ParseDuration).
func ParseDuration(s string) (time.Duration, error) { return units.ParseDuration(s) }

// Class is a retention class.
type Class struct {
	Name string `toml:"name"`
	// Record false means calls of this class are not recorded at all (only
	// their call detail record is kept).
	Record bool `toml:"record"`
	// MaxAge is the longest a recording may exist on the box, counted from
	// the call's start.
	MaxAge Duration `toml:"max_age"`
	// MustSync: the recording must reach the archive before it may be
	// deleted for any reason, MaxAge included: past its maximum age an
	// unacknowledged recording is kept (Overdue) until the archive
	// acknowledges it, so that no policy, however short its max_age,
	// deletes legally retained recordings the archive does not hold.
	MustSync bool `toml:"must_sync"`
	// Grace is how long a recording stays on the box after the archive
	// acknowledged it.
	Grace Duration `toml:"grace"`
	// EvictUnsynced lets the disk quota delete recordings of this class
	// that the archive has not acknowledged yet (oldest first, after every
	// synced recording). Off by default: nothing is lost that was not
	// synced unless the configuration says so.
	EvictUnsynced bool `toml:"evict_unsynced"`
}

// Rule picks a class for calls that match it. Empty match fields match
// everything; a call matches when every non-empty field matches.
type Rule struct {
	// Numbers are dial patterns on the user part of From or To: digits, 'x'
	// for any digit, a trailing '*' for any rest ("+4930*", "1xxx").
	Numbers []string `toml:"numbers"`
	// Direction is inbound, outbound, internal or external.
	Direction string `toml:"direction"`
	// Percent records only this share of matching calls (data
	// minimisation); 0 or 100 means all. The choice is a hash of the
	// Call-ID, so it is stable and not predictable by the parties.
	Percent float64 `toml:"percent"`
	// AgentOnly records only the agent's side until consent is given.
	AgentOnly bool `toml:"agent_only"`
	// Class is the class name to apply.
	Class string `toml:"class"`
}

// Policy is the configured set of classes and rules.
type Policy struct {
	Classes      []Class `toml:"class"`
	Rules        []Rule  `toml:"rule"`
	DefaultClass string  `toml:"default_class"`
}

// DefaultPolicy keeps every call 90 days and deletes it 7 days after the
// archive has it.
func DefaultPolicy() *Policy {
	return &Policy{
		Classes:      []Class{{Name: "default", Record: true, MaxAge: Duration(90 * 24 * time.Hour), Grace: Duration(7 * 24 * time.Hour)}},
		DefaultClass: "default",
	}
}

// Validate checks the policy; errors name the field.
func (p *Policy) Validate() error {
	seen := map[string]bool{}
	for i, c := range p.Classes {
		if c.Name == "" {
			return fmt.Errorf("retention.class[%d].name: empty", i)
		}
		if seen[c.Name] {
			return fmt.Errorf("retention.class[%d].name: %q defined twice", i, c.Name)
		}
		seen[c.Name] = true
		if c.Record && c.MaxAge <= 0 {
			return fmt.Errorf("retention.class[%d].max_age: a recorded class needs a maximum age", i)
		}
		if c.MustSync && c.EvictUnsynced {
			return fmt.Errorf("retention.class[%d].evict_unsynced: contradicts must_sync", i)
		}
	}
	if p.DefaultClass == "" {
		return fmt.Errorf("retention.default_class: empty")
	}
	if !seen[p.DefaultClass] {
		return fmt.Errorf("retention.default_class: no class %q", p.DefaultClass)
	}
	for i, r := range p.Rules {
		if !seen[r.Class] {
			return fmt.Errorf("retention.rule[%d].class: no class %q", i, r.Class)
		}
		switch r.Direction {
		case "", "inbound", "outbound", "internal", "external":
		default:
			return fmt.Errorf("retention.rule[%d].direction: %q is not inbound, outbound, internal or external", i, r.Direction)
		}
		if r.Percent < 0 || r.Percent > 100 {
			return fmt.Errorf("retention.rule[%d].percent: %v is outside 0..100", i, r.Percent)
		}
	}
	return nil
}

// Class returns the named class.
func (p *Policy) Class(name string) (Class, bool) {
	for _, c := range p.Classes {
		if c.Name == name {
			return c, true
		}
	}
	return Class{}, false
}

// CallFacts is what the rules look at.
type CallFacts struct {
	CallID    string
	FromUser  string
	ToUser    string
	Direction string
}

// Choice is the outcome of the rules for one call.
type Choice struct {
	Class     Class
	Record    bool
	AgentOnly bool
	Rule      int // index of the matching rule, -1 for the default
}

// Choose applies the first matching rule, or the default class.
func (p *Policy) Choose(f CallFacts) Choice {
	for i, r := range p.Rules {
		if !r.matches(f) {
			continue
		}
		c, _ := p.Class(r.Class)
		rec := c.Record && sampled(f.CallID, r.Percent)
		return Choice{Class: c, Record: rec, AgentOnly: r.AgentOnly, Rule: i}
	}
	c, _ := p.Class(p.DefaultClass)
	return Choice{Class: c, Record: c.Record, Rule: -1}
}

func (r *Rule) matches(f CallFacts) bool {
	if r.Direction != "" && r.Direction != f.Direction {
		return false
	}
	if len(r.Numbers) == 0 {
		return true
	}
	for _, pat := range r.Numbers {
		if record.MatchPattern(pat, f.FromUser) || record.MatchPattern(pat, f.ToUser) {
			return true
		}
	}
	return false
}

func sampled(callID string, percent float64) bool {
	if percent <= 0 || percent >= 100 {
		return true
	}
	h := fnv.New32a()
	h.Write([]byte(callID))
	return float64(h.Sum32()%10000) < percent*100
}

// Facts is what deletion decisions look at for one recording.
type Facts struct {
	Start   time.Time
	AckedAt time.Time // zero: not acknowledged by the archive
	OnHold  bool
}

// Reason says why a recording is deleted.
type Reason string

// Deletion reasons.
const (
	Keep          Reason = ""
	MaxAge        Reason = "max_age"
	SyncedGrace   Reason = "synced_and_grace_passed"
	QuotaSynced   Reason = "quota_synced"
	QuotaUnsynced Reason = "quota_unsynced_allowed_by_class"
)

// Due says whether a recording must be deleted now by rules 1-3. A
// recording of a MustSync class the archive has not acknowledged is never
// due (Overdue says when it is past its maximum age).
func Due(c Class, f Facts, now time.Time) Reason {
	if f.OnHold || c.MustSync && f.AckedAt.IsZero() {
		return Keep
	}
	if c.MaxAge > 0 && !now.Before(f.Start.Add(time.Duration(c.MaxAge))) {
		return MaxAge
	}
	if !f.AckedAt.IsZero() && !now.Before(f.AckedAt.Add(time.Duration(c.Grace))) {
		return SyncedGrace
	}
	return Keep
}

// Overdue says whether a recording is past its maximum age but kept
// because its class must reach the archive first and the archive has not
// acknowledged it: the box alerts.
func Overdue(c Class, f Facts, now time.Time) bool {
	return c.MustSync && f.AckedAt.IsZero() && c.MaxAge > 0 && !now.Before(f.Start.Add(time.Duration(c.MaxAge)))
}

// Expiry is the latest time the recording may exist (its maximum age).
func Expiry(c Class, start time.Time) time.Time {
	if c.MaxAge <= 0 {
		return time.Time{}
	}
	return start.Add(time.Duration(c.MaxAge))
}

// Evictable says whether the disk quota may delete the recording early,
// and in which tier (1: synced, 2: unsynced but allowed; lower goes first).
func Evictable(c Class, f Facts) (tier int, reason Reason) {
	if f.OnHold {
		return 0, Keep
	}
	if !f.AckedAt.IsZero() {
		return 1, QuotaSynced
	}
	if c.EvictUnsynced && !c.MustSync {
		return 2, QuotaUnsynced
	}
	return 0, Keep
}

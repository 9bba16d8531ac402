package retention_test

import (
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/vault/retention"
)

const day = 24 * time.Hour

func policy() *retention.Policy {
	return &retention.Policy{
		Classes: []retention.Class{
			{Name: "default", Record: true, MaxAge: retention.Duration(90 * day), Grace: retention.Duration(7 * day)},
			{Name: "trading", Record: true, MaxAge: retention.Duration(5 * 365 * day), MustSync: true},
			{Name: "none"},
			{Name: "sample", Record: true, MaxAge: retention.Duration(30 * day), EvictUnsynced: true},
		},
		Rules: []retention.Rule{
			{Numbers: []string{"+4930*"}, Direction: "inbound", Class: "trading"},
			{Numbers: []string{"1xxx"}, Class: "none"},
			{Direction: "external", Class: "sample", Percent: 38.17},
			{Direction: "outbound", Class: "sample", Percent: 38.19, AgentOnly: true},
		},
		DefaultClass: "default",
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		mut  func(p *retention.Policy)
		want string // "" valid, else a part of the error
	}{
		{"valid", func(p *retention.Policy) {}, ""},
		{"default policy", func(p *retention.Policy) { *p = *retention.DefaultPolicy() }, ""},
		{"unnamed class", func(p *retention.Policy) { p.Classes[2].Name = "" }, "retention.class[2].name: empty"},
		{"class twice", func(p *retention.Policy) { p.Classes[3].Name = "default" }, `retention.class[3].name: "default" defined twice`},
		{"recorded without max age", func(p *retention.Policy) { p.Classes[0].MaxAge = 0 }, "retention.class[0].max_age"},
		{"unrecorded without max age", func(p *retention.Policy) { p.Classes[2].MaxAge = 0 }, ""},
		{"must sync and evict unsynced", func(p *retention.Policy) { p.Classes[1].EvictUnsynced = true }, "retention.class[1].evict_unsynced: contradicts must_sync"},
		{"no default", func(p *retention.Policy) { p.DefaultClass = "" }, "retention.default_class: empty"},
		{"unknown default", func(p *retention.Policy) { p.DefaultClass = "gold" }, `retention.default_class: no class "gold"`},
		{"rule to unknown class", func(p *retention.Policy) { p.Rules[1].Class = "gold" }, `retention.rule[1].class: no class "gold"`},
		{"unknown direction", func(p *retention.Policy) { p.Rules[0].Direction = "Inbound" }, `retention.rule[0].direction: "Inbound" is not`},
		{"percent above 100", func(p *retention.Policy) { p.Rules[2].Percent = 100.5 }, "retention.rule[2].percent: 100.5 is outside 0..100"},
		{"negative percent", func(p *retention.Policy) { p.Rules[2].Percent = -1 }, "retention.rule[2].percent"},
		{"percent 100", func(p *retention.Policy) { p.Rules[2].Percent = 100 }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := policy()
			tc.mut(p)
			err := p.Validate()
			if (tc.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate: %v, want %q", err, tc.want)
			}
		})
	}
}

// Choose takes the first matching rule; Percent samples by a hash of the
// Call-ID (FNV-1a mod 10,000: "c@x" is 3818, "a@x" 8068), so the same
// call is always chosen the same way.
func TestChoose(t *testing.T) {
	p := policy()
	for _, tc := range []struct {
		name      string
		f         retention.CallFacts
		class     string
		record    bool
		agentOnly bool
		rule      int
	}{
		{"inbound from Berlin", retention.CallFacts{CallID: "a@x", FromUser: "+4930123", ToUser: "2001", Direction: "inbound"}, "trading", true, false, 0},
		{"Berlin as the callee", retention.CallFacts{CallID: "a@x", FromUser: "2001", ToUser: "+49301", Direction: "inbound"}, "trading", true, false, 0},
		{"outbound to Berlin", retention.CallFacts{CallID: "a@x", FromUser: "2001", ToUser: "+4930123", Direction: "outbound"}, "sample", false, true, 3},
		{"four-digit extension 1xxx", retention.CallFacts{CallID: "a@x", FromUser: "1234", ToUser: "555", Direction: "internal"}, "none", false, false, 1},
		{"five digits are not 1xxx", retention.CallFacts{CallID: "a@x", FromUser: "12345", ToUser: "555", Direction: "internal"}, "default", true, false, -1},
		{"external below the sample", retention.CallFacts{CallID: "c@x", Direction: "external"}, "sample", false, false, 2},
		{"outbound within the sample", retention.CallFacts{CallID: "c@x", Direction: "outbound"}, "sample", true, true, 3},
		{"outbound outside the sample", retention.CallFacts{CallID: "a@x", Direction: "outbound"}, "sample", false, true, 3},
		{"nothing matches", retention.CallFacts{CallID: "a@x", FromUser: "999", ToUser: "998", Direction: "internal"}, "default", true, false, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := p.Choose(tc.f)
			if got.Class.Name != tc.class || got.Record != tc.record || got.AgentOnly != tc.agentOnly || got.Rule != tc.rule {
				t.Errorf("Choose(%+v) = class %q record %v agent-only %v rule %d; want %q %v %v %d",
					tc.f, got.Class.Name, got.Record, got.AgentOnly, got.Rule, tc.class, tc.record, tc.agentOnly, tc.rule)
			}
		})
	}
}

func TestDeletion(t *testing.T) {
	start := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	def := policy().Classes[0]     // 90 days, 7 days' grace
	trading := policy().Classes[1] // 5 years, must sync
	sample := policy().Classes[3]  // 30 days, evict unsynced
	acked := start.Add(10 * day)
	for _, tc := range []struct {
		name     string
		c        retention.Class
		f        retention.Facts
		now      time.Time
		due      retention.Reason
		tier     int
		evict    retention.Reason
		expiryIn time.Duration // from start; 0: none
	}{
		{"fresh, unsynced", def, retention.Facts{Start: start}, start.Add(day), retention.Keep, 0, retention.Keep, 90 * day},
		{"synced, within grace", def, retention.Facts{Start: start, AckedAt: acked}, acked.Add(7*day - time.Second), retention.Keep, 1, retention.QuotaSynced, 90 * day},
		{"synced, grace passed", def, retention.Facts{Start: start, AckedAt: acked}, acked.Add(7 * day), retention.SyncedGrace, 1, retention.QuotaSynced, 90 * day},
		{"max age reached, unsynced", def, retention.Facts{Start: start}, start.Add(90 * day), retention.MaxAge, 0, retention.Keep, 90 * day},
		{"max age and grace: max age", def, retention.Facts{Start: start, AckedAt: acked}, start.Add(100 * day), retention.MaxAge, 1, retention.QuotaSynced, 90 * day},
		{"on hold past everything", def, retention.Facts{Start: start, AckedAt: acked, OnHold: true}, start.Add(1000 * day), retention.Keep, 0, retention.Keep, 90 * day},
		{"must sync, unsynced", trading, retention.Facts{Start: start}, start.Add(day), retention.Keep, 0, retention.Keep, 5 * 365 * day},
		// A central policy shortened the class's max_age (finding M2):
		// unsynced, it is kept past it until the archive has it.
		{"must sync, unsynced, max age passed", trading, retention.Facts{Start: start}, start.Add(6 * 365 * day), retention.Keep, 0, retention.Keep, 5 * 365 * day},
		{"must sync, synced, max age passed", trading, retention.Facts{Start: start, AckedAt: acked}, start.Add(6 * 365 * day), retention.MaxAge, 1, retention.QuotaSynced, 5 * 365 * day},
		{"must sync, synced: no grace", trading, retention.Facts{Start: start, AckedAt: acked}, acked, retention.SyncedGrace, 1, retention.QuotaSynced, 5 * 365 * day},
		{"evict unsynced allowed", sample, retention.Facts{Start: start}, start.Add(day), retention.Keep, 2, retention.QuotaUnsynced, 30 * day},
		{"no max age", policy().Classes[2], retention.Facts{Start: start}, start.Add(1000 * day), retention.Keep, 0, retention.Keep, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := retention.Due(tc.c, tc.f, tc.now); got != tc.due {
				t.Errorf("Due = %q, want %q", got, tc.due)
			}
			if tier, r := retention.Evictable(tc.c, tc.f); tier != tc.tier || r != tc.evict {
				t.Errorf("Evictable = %d %q, want %d %q", tier, r, tc.tier, tc.evict)
			}
			want := time.Time{}
			if tc.expiryIn > 0 {
				want = start.Add(tc.expiryIn)
			}
			if got := retention.Expiry(tc.c, tc.f.Start); !got.Equal(want) {
				t.Errorf("Expiry = %v, want %v", got, want)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"90d", 90 * day, true},
		{"7y", 7 * 365 * day, true},
		{"48h", 48 * time.Hour, true},
		{"30m", 30 * time.Minute, true},
		{"", 0, false},
		{"d", 0, false},
		{"ninety days", 0, false},
	} {
		got, err := retention.ParseDuration(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v (ok %v)", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

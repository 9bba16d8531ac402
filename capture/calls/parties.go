package calls

// Which party is local: the call's direction and the agent's side.

import (
	"net/netip"

	"github.com/spanvault/spanvault/capture/sip"
	"github.com/spanvault/spanvault/record"
)

func (t *Tracker) direction(c *Call) Direction {
	callerLocal := t.isLocal(c.From, c.Caller.Addr())
	calleeLocal := t.isLocal(c.To, c.Callee.Addr())
	switch {
	case callerLocal && calleeLocal:
		return Internal
	case callerLocal:
		return Outbound
	case calleeLocal:
		return Inbound
	}
	return External
}

// line is the extension pattern the branch's party of c matched: the
// caller's for an outbound or internal call, the callee's for an inbound
// one; "" when none did (no extensions configured, an external call).
func (t *Tracker) line(c *Call) string {
	uri := c.To
	if c.Direction == Outbound || c.Direction == Internal {
		uri = c.From
	}
	user := string(sip.User([]byte(uri)))
	for _, p := range t.cfg.Extensions {
		if MatchPattern(p, user) {
			return p
		}
	}
	return ""
}

func (t *Tracker) agentSide(c *Call) Dir {
	// Media flowing from the agent: AtoB when the caller is the agent.
	if c.Direction == Outbound || c.Direction == Internal {
		return AtoB
	}
	return BtoA
}

func (t *Tracker) isLocal(uri string, addr netip.Addr) bool {
	user := string(sip.User([]byte(uri)))
	for _, p := range t.cfg.Extensions {
		if MatchPattern(p, user) {
			return true
		}
	}
	if len(t.cfg.Extensions) > 0 {
		return false
	}
	for _, n := range t.cfg.LocalNets {
		if n.Contains(addr.Unmap()) {
			return true
		}
	}
	return false
}

// MatchPattern matches a dial pattern: digits and letters match themselves,
// 'x' or 'X' any digit, and a trailing '*' any rest (record.MatchPattern).
func MatchPattern(pattern, s string) bool { return record.MatchPattern(pattern, s) }

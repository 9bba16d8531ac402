package calls

import "github.com/spanvault/spanvault/capture/sip"

// ByCallID returns the dialog with this Call-ID, or nil.
func (t *Tracker) ByCallID(id string) *Call { return t.calls[id] }

// LookupAgent returns the live calls an agent's extension names, for
// actions (pause, consent) that must reach the agent's own call and never
// a dialog an outsider forged with the extension in its From or To. The
// candidates are live dialogs with ext as a party; the first tier that
// holds any decides:
//
//  1. answered, media seen both ways, ext on the agent's side;
//  2. answered, ext on the agent's side;
//  3. any live dialog with ext as a party.
//
// One call is the answer; more than one is ambiguous, and the caller
// must refuse rather than guess (the newest dialog is what a forged
// INVITE would be).
func (t *Tracker) LookupAgent(ext string) []*Call {
	if ext == "" {
		return nil
	}
	var tiers [3][]*Call
	for _, c := range t.calls {
		if !c.finalAt.IsZero() {
			continue
		}
		from, to := string(sip.User([]byte(c.From))), string(sip.User([]byte(c.To)))
		if from != ext && to != ext {
			continue
		}
		agent := to == ext
		if c.Direction == Internal {
			agent = true
		} else if c.Policy.AgentSide == AtoB {
			agent = from == ext
		}
		switch {
		case agent && c.State == Answered && c.mediaBothWays():
			tiers[0] = append(tiers[0], c)
		case agent && c.State == Answered:
			tiers[1] = append(tiers[1], c)
		default:
			tiers[2] = append(tiers[2], c)
		}
	}
	for _, tier := range tiers {
		if len(tier) > 0 {
			return tier
		}
	}
	return nil
}

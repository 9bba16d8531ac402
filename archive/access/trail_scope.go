package access

import "github.com/spanvault/spanvault/archive/index"

// mayReadEvent: an auditor reads the trail of their branches: an
// auditor of every branch reads every event, one scoped to branches
// only the events of those branches (not the archive-wide ones, which
// name no branch: sign-ins, accounts, requests, the archive's own work).
// The chain's verdict covers the whole trail for every reader.
func mayReadEvent(u *User, e *index.Event) bool {
	if u.AllBranches() {
		return true
	}
	return e.Appliance != "" && u.InScope(e.Appliance)
}

// eventsInScope keeps the events u may read, in order.
func eventsInScope(u *User, es []index.Event) []index.Event {
	if u.AllBranches() {
		return es
	}
	out := es[:0:0]
	for i := range es {
		if mayReadEvent(u, &es[i]) {
			out = append(out, es[i])
		}
	}
	return out
}

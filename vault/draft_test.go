package vault_test

import (
	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/record"
)

// drafts hands calls to the vault the way the tracker does: as the
// record drafts they are when they end.
func drafts(cs ...*calls.Call) []*record.Draft {
	out := make([]*record.Draft, len(cs))
	for i, c := range cs {
		out[i] = c.Draft()
	}
	return out
}

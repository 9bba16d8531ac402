package access

import (
	"strings"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/index"
)

// updatesFor is the rollout panel as u may see it (like fleetFor): a
// reader of some branches sees the rollouts that include one of its
// boxes, with only those boxes, wave counts over them, and another
// branch's canary named by no name. The published updates (no box in
// them) are shown to every fleet reader.
func updatesFor(u *User, all Updates) Updates {
	if u.AllBranches() {
		return all
	}
	out := Updates{Updates: all.Updates, Rollouts: []*archive.RolloutStatus{}}
	for _, r := range all.Rollouts {
		var bs []index.RolloutBox
		for _, b := range r.Boxes {
			if u.InScope(b.Appliance) {
				bs = append(bs, b)
			}
		}
		if len(bs) == 0 {
			continue
		}
		c := *r
		c.Boxes, c.Waves = bs, archive.CountWaves(bs)
		if c.Canary != "" && !u.InScope(c.Canary) {
			c.EndReason = strings.ReplaceAll(c.EndReason, c.Canary, "(another branch's box)")
			c.Canary = ""
		}
		out.Rollouts = append(out.Rollouts, &c)
	}
	return out
}

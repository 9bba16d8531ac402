package appliance

import "github.com/spanvault/spanvault/capture/calls"

// countCompleteness counts a recorded call that misses packets which
// crossed the mirrored wire (its completeness record's LostCapture): the
// day's "recorded incomplete by us", shown on the status page and
// reported at check-in.
func (d *dayCount) countCompleteness(c *calls.Call) {
	if cs := c.Completeness(); cs.IncompleteByUs() {
		d.incompleteByUs++
	}
}

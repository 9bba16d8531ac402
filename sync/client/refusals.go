package client

import (
	"github.com/spanvault/spanvault/sync/wire"
)

// maxRefusalText bounds the archive's reason as the box audits it.
const maxRefusalText = 500

// refusedErasures audits the erasures of this box that the archive
// refused to apply to its own copy (a legal hold at the archive, a legal
// retention duty): the box's copy is gone, the archive's stays, and the
// box's audit trail (and so its status and the DPO) says why.
func (c *Client) refusedErasures(rs []wire.RefusedErasure) {
	for _, r := range rs {
		if !wire.ValidID(r.ID) {
			continue
		}
		reason := r.Reason
		if len(reason) > maxRefusalText {
			reason = reason[:maxRefusalText]
		}
		if err := c.v.Audit(AuditErasureRefused, "archive", r.ID, "the archive keeps its copy: "+reason); err != nil {
			c.mu.Lock()
			c.state.LastError = "auditing a refused erasure: " + err.Error()
			c.mu.Unlock()
		}
		c.mu.Lock()
		c.state.RefusedErasures++
		c.mu.Unlock()
	}
}

// AuditErasureRefused is the box's audit action for an erasure the
// archive refused to apply to its copy.
const AuditErasureRefused = "erasure_refused_at_archive"

package client

import "github.com/spanvault/spanvault/sync/wire"

// HandleUpdate feeds an offer to the client as a check-in reply does:
// for offers the real archive never makes (a downgrade, the build a box
// runs, one it refused already), whose refusal on the box is still
// tested.
func (c *Client) HandleUpdate(o *wire.UpdateOffer) (bool, error) { return c.handleUpdate(o) }

package client

// SetBeforeAck installs a hook between the archive's ack and the vault's.
func (c *Client) SetBeforeAck(f func() error) { c.beforeAck = f }

package vault

// NewAsyncHeld starts a writer that waits until release is called.
func NewAsyncHeld(v *Vault, limit int) (a *Async, release func()) {
	hold := make(chan struct{})
	return newAsync(v, limit, hold), func() { close(hold) }
}

// Unopened reports the bytes held for recordings not yet opened.
func Unopened(v *Vault) int64 { return v.unopened.Load() }

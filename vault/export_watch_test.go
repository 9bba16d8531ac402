package vault

// WatchIndex runs the daemon's index-file check now.
func WatchIndex(v *Vault) { v.watchIndex() }

package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spanvault/spanvault/appliance/config"
	"github.com/spanvault/spanvault/vault"
	"github.com/spanvault/spanvault/vault/retention"
)

// openForFsck opens the vault for fsck. With repair it opens it as the
// daemon does (vault.OpenOrReplace): a damaged, emptied or missing index
// is moved aside (kept) and a fresh one started, which Fsck then fills
// from what the damaged file still holds and from the recording files;
// the alert is printed; with the box's configuration, recordings
// re-indexed from their files get its default retention class. Without
// repair it opens read-only.
func openForFsck(dir string, repair bool, cfgPath string, stdout io.Writer) (*vault.Vault, error) {
	if !repair {
		return openVault(dir, true)
	}
	var policy *retention.Policy
	if cfgPath != "" {
		cfg, err := config.Load(cfgPath)
		if err != nil {
			return nil, err
		}
		policy = &cfg.Retention
	}
	if _, err := os.Stat(filepath.Join(dir, "vault.db")); err != nil {
		if _, rerr := os.Stat(filepath.Join(dir, "rec")); rerr != nil {
			return nil, fmt.Errorf("%w: %s", vault.ErrNoVault, dir)
		}
	}
	return vault.OpenOrReplace(vault.Options{Dir: dir, Policy: policy, Alert: func(a vault.Alert) {
		fmt.Fprintf(stdout, "alert %s: %s\n", a.Kind, a.Detail)
	}})
}

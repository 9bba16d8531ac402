package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/spanvault/spanvault/appliance"
	"github.com/spanvault/spanvault/appliance/config"
	"github.com/spanvault/spanvault/sync/client"
	"github.com/spanvault/spanvault/vault"
)

func init() {
	register("sync", "one sync pass to the archive (-now: upload whatever the window)", cmdSync)
}

func cmdSync(args []string, stdout io.Writer) error {
	fs := newFlags("sync")
	path := fs.String("config", config.DefaultPath, "configuration file (with a [sync] section)")
	now := fs.Bool("now", false, "upload now, ignoring the nightly window")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	if !cfg.Sync.Configured() {
		return errors.New("config: sync.archives: empty (append the sync.toml that spanvault-archive enroll wrote)")
	}
	recips, err := config.ReadRecipients(cfg.Vault.Recipients)
	if err != nil {
		return fmt.Errorf("vault.recipients: %w", err)
	}
	v, err := vault.Open(vault.Options{Dir: cfg.Vault.Dir, Recipients: recips, Policy: &cfg.Retention})
	if err != nil {
		return err
	}
	defer v.Close()
	c, err := appliance.NewSyncClient(cfg, v)
	if err != nil {
		return err
	}
	if os.Getenv("SPANVAULT_FAILPOINT") == "kill-before-ack" {
		// Crash tests: die by SIGKILL after the archive acknowledged a
		// batch and before the vault records it.
		c.SetFailpoint(func() error {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL) // cannot fail for our own pid
			select {}
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Hour)
	defer cancel()
	upload := *now || appliance.InWindow(cfg.Sync.Window, time.Now())
	err = c.Pass(ctx, client.Options{Upload: upload})
	if err == nil && c.PullRequested() {
		err = c.Pass(ctx, client.Options{Upload: true})
	}
	st := c.State()
	b, _ := json.MarshalIndent(st, "", "  ")
	fmt.Fprintln(stdout, string(b))
	return err
}

package main

import (
	"testing"

	"github.com/spanvault/spanvault/internal/deptest"
)

// The archive links nothing of the box: not its storage engine (bbolt,
// the vault and its audit, export and retention packages), not its live
// capture (the call tracker, the ring), not its appliance daemon or its
// sync client. What both ends read lives in leaf packages (record/...,
// sync/wire, internal/...); of the vault's tree only two pure leaves may
// be linked: the sealed recording format (the archive reads recordings
// with it) and the age file writer (the archive's re-seal writes a new
// header with it); neither imports anything of the box.
func TestArchiveDependencies(t *testing.T) {
	deptest.Check(t, "github.com/spanvault/spanvault/cmd/spanvault-archive", "linux", "amd64", []string{
		"go.etcd.io/bbolt",
		"github.com/spanvault/spanvault/vault",
		"!github.com/spanvault/spanvault/vault/sealed",
		"!github.com/spanvault/spanvault/vault/agefile",
		"github.com/spanvault/spanvault/capture/calls",
		"github.com/spanvault/spanvault/capture/ring",
		"github.com/spanvault/spanvault/appliance",
		"github.com/spanvault/spanvault/sync/client",
		"github.com/gokrazy",
	})
}

package main

import (
	"testing"

	"github.com/spanvault/spanvault/internal/deptest"
)

// The archive links nothing of the box's live capture, its appliance
// daemon or its sync client. (It still links the vault package and the
// call tracker through archive/access, for the entry type and rendering;
// issue 22's leaf packages are to take those out, and this list will
// then name bbolt, vault and capture/calls too.)
func TestArchiveDependencies(t *testing.T) {
	deptest.Check(t, "github.com/spanvault/spanvault/cmd/spanvault-archive", "linux", "amd64", []string{
		"github.com/spanvault/spanvault/capture/ring",
		"github.com/spanvault/spanvault/appliance",
		"github.com/spanvault/spanvault/sync/client",
		"github.com/gokrazy",
	})
}

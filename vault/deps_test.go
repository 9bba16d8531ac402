package vault_test

import (
	"testing"

	"github.com/spanvault/spanvault/internal/deptest"
)

// The vault reads what the tracker hands it (record.Draft) and calls
// nothing of the capture engine back: data flows one way, capture to
// vault. Its tests may drive the tracker; the package may not link it.
func TestVaultDependencies(t *testing.T) {
	deptest.Check(t, "github.com/spanvault/spanvault/vault", "linux", "arm64", []string{
		"github.com/spanvault/spanvault/capture",
		"github.com/spanvault/spanvault/archive",
		"github.com/spanvault/spanvault/sync",
	})
}

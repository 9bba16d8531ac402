package vault_test

import (
	"strings"
	"testing"

	"github.com/spanvault/spanvault/vault"
)

// An audit write that fails (here: the index is closed under it) returns
// its error and raises AlertDiskError: a trail that is evidence never
// loses an entry silently.
func TestAuditWriteFailureAlerts(t *testing.T) {
	var alerts []vault.Alert
	v, _ := asyncTestVault(t, vault.Options{Alert: func(a vault.Alert) { alerts = append(alerts, a) }})
	if err := v.Audit("probe", "test", "", "before"); err != nil {
		t.Fatalf("audit on an open vault: %v", err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if err := v.Audit("probe", "test", "", "after close"); err == nil {
		t.Fatal("audit on a closed index returned no error")
	}
	var got bool
	for _, a := range alerts {
		if a.Kind == vault.AlertDiskError && strings.Contains(a.Detail, "audit trail") {
			got = true
		}
	}
	if !got {
		t.Fatalf("no %s alert for the lost audit entry; alerts: %+v", vault.AlertDiskError, alerts)
	}
}

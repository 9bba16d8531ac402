package vault_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/vault"
)

// A deleted appliance.key is never silent: the new key is recorded with
// the entry it signs from, audited and alerted.
func TestAuditKeyChangeIsAudited(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	id, _ := age.GenerateX25519Identity()
	var alerts []vault.Alert
	open := func() *vault.Vault {
		v, err := vault.Open(vault.Options{Dir: dir, Recipients: []age.Recipient{id.Recipient()}, Alert: func(a vault.Alert) { alerts = append(alerts, a) }})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	v := open()
	recordSynth(t, v, synth.Config{Calls: 2, Duration: time.Second})
	v.Close()
	v = open() // same key: nothing to say
	v.Close()
	if len(alerts) != 0 {
		t.Fatalf("alerts on a plain reopen: %v", alerts)
	}
	os.Remove(filepath.Join(dir, "appliance.key"))
	v = open()
	defer v.Close()
	if len(alerts) != 1 || alerts[0].Kind != vault.AlertAuditKeyChanged {
		t.Fatalf("alerts %v", alerts)
	}
	ks, _ := v.KeySpans()
	if len(ks) != 2 || ks[0].FromSeq != 1 || ks[1].FromSeq <= 1 || ks[0].Fingerprint == ks[1].Fingerprint {
		t.Fatalf("key spans %+v", ks)
	}
	es, _ := v.AuditEntries(ks[1].FromSeq, 10)
	if len(es) == 0 || es[0].Action != "audit_key_changed" {
		t.Fatalf("key change not audited: %+v", es)
	}
}

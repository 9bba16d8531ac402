package appliance

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/spanvault/spanvault/appliance/config"
	"github.com/spanvault/spanvault/appliance/led"
	"github.com/spanvault/spanvault/capture"
	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/decode"
	"github.com/spanvault/spanvault/vault"
)

func testAppliance(t *testing.T, extra string) *Appliance {
	t.Helper()
	dir := t.TempDir()
	cfg, err := config.Parse([]byte("[vault]\ndir = \"v\"\nrecipients = \"r\"\n"+extra), dir)
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := age.GenerateX25519Identity()
	a.v, err = vault.Open(vault.Options{Dir: filepath.Join(dir, "v"), Recipients: []age.Recipient{id.Recipient()}, Alert: a.alert})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.v.Close() })
	a.live = &capture.Live{P: capture.NewPipeline(decode.New(decode.DefaultOptions), calls.NewTracker(calls.Config{}, a.v, a.v))}
	a.clockOK.Store(true)
	return a
}

// TestStatusDrivesLED: the daemon's own state picks the LED pattern: a
// quiet mirror port, a refusing disk, a broken audit chain.
func TestStatusDrivesLED(t *testing.T) {
	a := testAppliance(t, "[capture]\nno_sip_warning = \"10m\"\n")
	a.refresh()
	if st := a.Status(); st.LED != led.Recording.String() || !st.Healthy {
		t.Fatalf("fresh box: %s", st.LED)
	}
	a.start = time.Now().Add(-time.Hour) // no SIP for an hour
	a.refresh()
	st := a.Status()
	if st.LED != led.NoSIP.String() || !st.Capture.NoSIPWarning || st.Capture.NoSIPFor == "" {
		t.Fatalf("quiet mirror port: %s %+v", st.LED, st.Capture)
	}
	a.mu.Lock()
	a.auditOK, a.auditErr = false, "audit: chain broken at entry 7"
	a.mu.Unlock()
	a.refresh()
	if st := a.Status(); st.LED != led.AuditFailed.String() || st.Healthy {
		t.Fatalf("broken chain: %s", st.LED)
	}
	if st := a.Status(); st.Sync.State != "not configured" || st.Sync.Configured {
		t.Fatalf("sync shown as %+v without a sync configured", st.Sync)
	}
}

// TestAlertHook: alerts reach the data-protection officer's hook as JSON.
func TestAlertHook(t *testing.T) {
	out := filepath.Join(t.TempDir(), "alert.json")
	a := testAppliance(t, "[alerts]\nhook = \"cat > "+out+"\"\n")
	a.alert(vault.Alert{Time: time.Now(), Kind: vault.AlertErasureBurst, Detail: "21 erasures within 1h0m0s"})
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if b, _ := os.ReadFile(out); strings.Contains(string(b), `"kind":"erasure_burst"`) {
			if st := a.Status(); len(a.alerts) != 1 {
				t.Fatalf("alert not kept for the status page: %+v", st.Alerts)
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("hook did not receive the alert")
}

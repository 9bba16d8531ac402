package client_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/internal/testkit"
)

// The box (the spanvault binary) is SIGKILLed after the archive
// acknowledged a batch and before its vault recorded it: the next sync is
// acknowledged again, nothing is lost or duplicated.
func TestBoxKilledBetweenAckAndAcknowledge(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the spanvault binary")
	}
	bin := testkit.GoBuild(t, "../../cmd/spanvault")
	e := newEnv(t)
	e.record(synth.Config{Calls: 10, Duration: time.Second, Start: e.clock.Now().Add(-time.Hour), Rejected: 2})
	e.v.Close()
	recips := filepath.Join(t.TempDir(), "recipients.txt")
	os.WriteFile(recips, []byte(e.identity.Recipient().String()+"\n"), 0o600)
	c := e.config()
	cfgPath := filepath.Join(t.TempDir(), "box.toml")
	cfg := fmt.Sprintf("[vault]\ndir = %q\nrecipients = %q\n[sync]\nname = %q\narchives = [%q]\ncert = %q\nkey = %q\nca = %q\nanchor_key = %q\n",
		e.vdir, recips, e.box, e.addr, c.Cert, c.Key, c.CA, c.AnchorKey)
	os.WriteFile(cfgPath, []byte(cfg), 0o600)

	kill := exec.Command(bin, "sync", "-config", cfgPath, "-now")
	kill.Env = append(os.Environ(), "SPANVAULT_FAILPOINT=kill-before-ack")
	err := kill.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the box was not killed at the failpoint: %v", err)
	}
	if n := len(e.archiveRows()); n != 12 {
		t.Fatalf("archive holds %d rows after the ack, want 12", n)
	}
	if out, err := exec.Command(bin, "sync", "-config", cfgPath, "-now").CombinedOutput(); err != nil {
		t.Fatalf("sync after the kill: %v\n%s", err, out)
	}
	if n := len(e.archiveRows()); n != 12 {
		t.Fatalf("archive holds %d rows, want 12: duplicated", n)
	}
	e.openVault()
	e.checkAllArrived()
}

package appliance_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/capture/ring/ringtest"
	"github.com/spanvault/spanvault/sync/wire"
)

// TestDaemonZeroTouchEnrollment runs a box built for an archive: its
// configuration holds only the archive's address and CA fingerprint
// ([enroll]). The daemon starts without a certificate, shows its
// enrollment code on its status page and the LED pattern, is not
// approved by a code typed wrong, is approved with spanvault-archive
// approve, and then syncs a recorded call without a restart; after a
// restart it is still enrolled.
func TestDaemonZeroTouchEnrollment(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	ns := ringtest.NewNetns(t, "svenrol")
	// An approved box syncs at once, whatever the hour.
	arc := startArchive(t, ns, archiveOptions{Listen: "127.0.0.1:18445", Approved: &schedule{Window: "00:00-24:00", CheckInEvery: "10s"}})
	// The approver: an admin of the access service with their own
	// password, who types it and a current code (stdin).
	ops := arc.ops()
	approve := func(args ...string) (string, error) {
		cmd := append([]string{"approve", "-dir", arc.dir, "-by", "ops"}, args...)
		if args[0] == "-list" {
			return arc.run(cmd...)
		}
		return ops.run(cmd...)
	}

	b := newBox(t, ns, `
[enroll]
archives = ["127.0.0.1:18445"]
ca_fingerprint = "`+arc.caFingerprint()+`"
dir = "enroll"
poll_every = "1s"
`)
	b.start()
	var code string
	waitFor(t, "the box to show its enrollment code", 20*time.Second, func() bool {
		st := b.status()
		en, _ := st["enroll"].(map[string]any)
		code, _ = en["code"].(string)
		return en["state"] == "pending" && code != "" && st["led"] == "enrolling"
	})
	if wire.NormalizeCode(code) != code {
		t.Fatalf("code %q", code)
	}
	if sync, _ := b.status()["sync"].(map[string]any); sync["configured"] == true {
		t.Fatalf("an unapproved box syncs: %v", sync)
	}
	if !strings.Contains(b.page(), code) {
		t.Fatalf("the status page does not show the code %s", code)
	}
	// The archive lists it as waiting.
	if out, err := approve("-list"); err != nil || !strings.Contains(out, code) {
		t.Fatalf("approve -list: %v %s", err, out)
	}

	// A code typed wrong (one character off) approves nothing.
	wrong := []byte(code)
	if wrong[0] == 'A' {
		wrong[0] = 'B'
	} else {
		wrong[0] = 'A'
	}
	if out, err := approve("-code", string(wrong), "-name", "branch-zt"); err == nil || !strings.Contains(out, archive.ErrTextNoCode) {
		t.Fatalf("a wrong code: %v %s", err, out)
	}
	if _, err := arc.appliance("branch-zt"); err == nil {
		t.Fatal("a wrong code enrolled the name")
	}

	if out, err := approve("-code", strings.ToLower(code), "-name", "branch-zt"); err != nil {
		t.Fatalf("approve: %v %s", err, out)
	}
	waitFor(t, "the approved box to start syncing without a restart", 30*time.Second, func() bool {
		st := b.status()
		sync, _ := st["sync"].(map[string]any)
		en, _ := st["enroll"].(map[string]any)
		return en["state"] == "approved" && sync["configured"] == true && sync["last_success"] != nil && st["led"] != "enrolling"
	})

	placeCalls(t, ns, 1)
	waitFor(t, "the enrolled box to sync its recorded call", 60*time.Second, func() bool {
		rows, _ := arc.recordings("branch-zt")
		return len(rows) >= 1
	})
	for _, f := range []string{"sync.key", "api.key"} {
		if fi, err := os.Stat(filepath.Join(b.dir, "enroll", f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", f, fi.Mode(), err)
		}
	}
	// A restart keeps the enrollment.
	b.stop()
	b.start()
	waitFor(t, "the restarted box to sync as branch-zt", 30*time.Second, func() bool {
		st := b.status()
		sync, _ := st["sync"].(map[string]any)
		return st["enroll"] == nil && sync["configured"] == true && sync["last_success"] != nil && st["led"] != "enrolling"
	})
}

// operator is an admin of the access service the approve command checks.
type operator struct{ password, secret string }

func (o operator) code(t *testing.T, skew time.Duration) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(o.secret, time.Now().Add(skew), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// approver adds "ops", an admin of every branch, with their own password.
func approver(t *testing.T, adir string) operator {
	t.Helper()
	a, err := archive.Open(adir)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	nu, err := access.AddUser(context.Background(), a.Index.DB(), a.Now(), "ops", access.Admin, nil)
	if err != nil {
		t.Fatal(err)
	}
	k, err := otp.NewKeyFromURL(nu.TOTPURL)
	if err != nil {
		t.Fatal(err)
	}
	o := operator{password: "the operator's own password", secret: k.Secret()}
	if err := access.New(a, nil).SetPassword(context.Background(), "ops", o.password); err != nil {
		t.Fatal(err)
	}
	return o
}

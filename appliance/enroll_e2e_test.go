package appliance_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/archive/ca"
	"github.com/spanvault/spanvault/archive/index"
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
	adir := filepath.Join(t.TempDir(), "archive")
	if err := archive.Init(adir, archive.InitOptions{Name: "e2e-archive", Listen: "127.0.0.1:18445"}); err != nil {
		t.Fatal(err)
	}
	// An approved box syncs at once, whatever the hour.
	cfgPath := filepath.Join(adir, "archive.toml")
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	s := regexp.MustCompile(`(?m)^  window = ""$`).ReplaceAllString(string(cfg), `  window = "00:00-24:00"`)
	s = regexp.MustCompile(`(?m)^  check_in_every = "0s"$`).ReplaceAllString(s, `  check_in_every = "10s"`)
	if s == string(cfg) {
		t.Fatalf("no [enroll] section in %s", cfg)
	}
	os.WriteFile(cfgPath, []byte(s), 0o600)
	caCert, err := ca.ReadCert(filepath.Join(adir, "ca", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(caCert.Raw)
	bin := filepath.Join(t.TempDir(), "spanvault-archive")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/spanvault-archive").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	srv := ns.Command(bin, "serve", "-dir", adir)
	var alog lockedBuffer
	srv.Stdout, srv.Stderr = &alog, &alog
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	// The approver: an admin of the access service with their own
	// password, who types it and a current code (stdin).
	ops := approver(t, adir)
	skew := time.Duration(0)
	approve := func(args ...string) (string, error) {
		c := exec.Command(bin, append([]string{"approve", "-dir", adir, "-by", "ops"}, args...)...)
		if args[0] != "-list" {
			c.Stdin = strings.NewReader(ops.password + "\n" + ops.code(t, skew) + "\n")
			skew += 30 * time.Second // a code is good once: the next run takes the next step
		}
		out, err := c.CombinedOutput()
		return string(out), err
	}

	b := newBox(t, ns, `
[enroll]
archives = ["127.0.0.1:18445"]
ca_fingerprint = "sha256:`+hex.EncodeToString(sum[:])+`"
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
	if x, err := index.Open(filepath.Join(adir, "index.db")); err == nil {
		_, err := x.Appliance(context.Background(), "branch-zt")
		x.Close()
		if err == nil {
			t.Fatal("a wrong code enrolled the name")
		}
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

	work := t.TempDir()
	uas := sipp(t, ns, "-sf", scenario(t, work, "uas.xml"), "-i", "127.0.0.1", "-p", "5070", "-mi", "127.0.0.1", "-mp", "20000", "-m", "1")
	time.Sleep(200 * time.Millisecond)
	plain := scenario(t, work, "uac.xml", "[$audio]", "/usr/share/sip-tester/g711a.pcap", dtmfBlock, "")
	sipp(t, ns, "127.0.0.1:5070", "-sf", plain, "-s", "3001", "-i", "127.0.0.1", "-p", "6070", "-mi", "127.0.0.1", "-mp", "30000", "-m", "1").wait(t)
	uas.wait(t)
	waitFor(t, "the enrolled box to sync its recorded call", 60*time.Second, func() bool {
		x, err := index.Open(filepath.Join(adir, "index.db"))
		if err != nil {
			return false
		}
		defer x.Close()
		rows, _ := x.Records(context.Background(), index.Query{Appliance: "branch-zt", Kind: wire.KindRecording})
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

// nextCode is a code of the first 30-second step after *last that the
// archive takes (now or the next), and makes it *last.
func (o operator) nextCode(t *testing.T, last *int64) string {
	t.Helper()
	at := time.Now()
	if at.Unix()/30 <= *last {
		at = time.Unix((*last+1)*30, 0)
	}
	*last = at.Unix() / 30
	return o.code(t, time.Until(at))
}

// approver adds "ops", an admin of every branch, with their own password.
func approver(t *testing.T, adir string) operator { t.Helper(); return adminAccount(t, adir, "ops") }

// adminAccount adds name, an admin of every branch, with their own password.
func adminAccount(t *testing.T, adir, name string) operator {
	t.Helper()
	a, err := archive.Open(adir)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	nu, err := access.AddUser(context.Background(), a.Index.DB(), a.Now(), name, access.Admin, nil)
	if err != nil {
		t.Fatal(err)
	}
	k, err := otp.NewKeyFromURL(nu.TOTPURL)
	if err != nil {
		t.Fatal(err)
	}
	o := operator{password: "the operator's own password", secret: k.Secret()}
	if err := access.New(a, nil).SetPassword(context.Background(), name, o.password); err != nil {
		t.Fatal(err)
	}
	return o
}

package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/sync/wire"
)

// operator is an access-service account the approve command checks.
type operator struct{ name, password, secret string }

// code is the operator's second factor at now+skew.
func (o operator) code(t *testing.T, skew time.Duration) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(o.secret, time.Now().Add(skew), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// approveArchive is an archive under four-eyes enrollment with a box
// waiting under code, and accounts of the access service (their own
// passwords set).
func approveArchive(t *testing.T, names map[string]access.Role) (dir, code string, ops map[string]operator) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "archive")
	if _, e, c := run(t, "init", "-dir", dir, "-listen", "127.0.0.1:18998"); c != 0 {
		t.Fatalf("init: %s", e)
	}
	cfgPath := filepath.Join(dir, "archive.toml")
	cfg, _ := os.ReadFile(cfgPath)
	if err := os.WriteFile(cfgPath, []byte(strings.Replace(string(cfg), "four_eyes = false", "four_eyes = true", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := archive.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx := context.Background()
	csr := func() ([]byte, *ecdsa.PrivateKey) {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "box"}}, k)
		if err != nil {
			t.Fatal(err)
		}
		return der, k
	}
	c1, k1 := csr()
	c2, _ := csr()
	if code, err = wire.EnrollCode(&k1.PublicKey); err != nil {
		t.Fatal(err)
	}
	now := a.Now()
	if _, err := a.Index.AddEnrollment(ctx, index.Enrollment{Code: code, CSR: base64.StdEncoding.EncodeToString(c1), APICSR: base64.StdEncoding.EncodeToString(c2),
		Source: "192.0.2.7", RequestedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	svc := access.New(a, nil)
	ops = map[string]operator{}
	for n, r := range names {
		nu, err := access.AddUser(ctx, a.Index.DB(), now, n, r, nil)
		if err != nil {
			t.Fatal(err)
		}
		k, _ := otp.NewKeyFromURL(nu.TOTPURL)
		o := operator{name: n, password: "the own password of " + n, secret: k.Secret()}
		if err := svc.SetPassword(ctx, n, o.password); err != nil {
			t.Fatal(err)
		}
		ops[n] = o
	}
	return dir, code, ops
}

// approveAs runs approve -by who with credentials on stdin.
func approveAs(t *testing.T, dir, code, who, creds string) (string, string, int) {
	t.Helper()
	stdin = strings.NewReader(creds)
	defer func() { stdin = os.Stdin }()
	return run(t, "approve", "-dir", dir, "-code", code, "-name", "branch-cli", "-by", who)
}

func enrolled(t *testing.T, dir string) bool {
	t.Helper()
	a, err := archive.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	_, err = a.Index.Appliance(context.Background(), "branch-cli")
	return err == nil
}

// TestApproveAuthenticates: spanvault-archive approve checks the named
// approver like the web sign-in (password and a fresh second-factor
// code, read from stdin or a 0600 file; the lockout after five
// failures) and refuses a role that may not enrol; under four eyes the
// filer cannot confirm their own approval, and one operator cannot play
// both people by naming two. (Old code: -by was taken on trust: "-by
// alice" then "-by bob" from one shell enrolled the box.)
func TestApproveAuthenticates(t *testing.T) {
	dir, code, ops := approveArchive(t, map[string]access.Role{"alice": access.Admin, "bob": access.Admin, "carl": access.Auditor, "dave": access.Admin})
	alice, bob := ops["alice"], ops["bob"]

	// One operator, two names, no credentials.
	approveAs(t, dir, code, "alice", "")
	approveAs(t, dir, code, "bob", "")
	if enrolled(t, dir) {
		t.Fatal("approve -by alice then approve -by bob, without either's credentials, enrolled the box")
	}
	// A wrong password, a role that may not enrol.
	if _, e, c := approveAs(t, dir, code, "alice", "not her password\n"+alice.code(t, 0)+"\n"); c == 0 || !strings.Contains(e, "wrong name, password or code") {
		t.Fatalf("a wrong password: %d %s", c, e)
	}
	if _, e, c := approveAs(t, dir, code, "carl", ops["carl"].password+"\n"+ops["carl"].code(t, 0)+"\n"); c == 0 || !strings.Contains(e, "may not") {
		t.Fatalf("an auditor approving: %d %s", c, e)
	}
	// Alice files; alice again (a fresh code) is refused.
	if o, e, c := approveAs(t, dir, code, "alice", alice.password+"\n"+alice.code(t, 0)+"\n"); c != 0 || !strings.Contains(o, "filed") {
		t.Fatalf("alice files: %d %s %s", c, o, e)
	}
	if _, e, c := approveAs(t, dir, code, "alice", alice.password+"\n"+alice.code(t, 30*time.Second)+"\n"); c == 0 || !strings.Contains(e, "second admin") {
		t.Fatalf("alice confirming her own approval: %d %s", c, e)
	}
	if enrolled(t, dir) {
		t.Fatal("alice alone enrolled the box")
	}
	// Dave fails five times: locked at the command line, right
	// credentials or not.
	dave := ops["dave"]
	for range 5 {
		approveAs(t, dir, code, "dave", "guess\n000000\n")
	}
	if _, e, c := approveAs(t, dir, code, "dave", dave.password+"\n"+dave.code(t, 0)+"\n"); c == 0 || !strings.Contains(e, "wrong name, password or code") {
		t.Fatalf("dave after five failures: %d %s", c, e)
	}
	// Bob confirms from a credentials file: only a 0600 one.
	f := filepath.Join(t.TempDir(), "bob.cred")
	os.WriteFile(f, []byte(bob.password+"\n"+bob.code(t, 0)+"\n"), 0o644)
	if _, e, c := run(t, "approve", "-dir", dir, "-code", code, "-name", "branch-cli", "-by", "bob", "-credentials-file", f); c == 0 || !strings.Contains(e, "0600") {
		t.Fatalf("a credentials file others may read: %d %s", c, e)
	}
	os.Chmod(f, 0o600)
	if o, e, c := run(t, "approve", "-dir", dir, "-code", code, "-name", "branch-cli", "-by", "bob", "-credentials-file", f); c != 0 || !strings.Contains(o, "approved") {
		t.Fatalf("bob confirms: %d %s %s", c, o, e)
	}
	if !enrolled(t, dir) {
		t.Fatal("two authenticated admins did not enrol the box")
	}
}

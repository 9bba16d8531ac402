package image_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/access"
)

// vmOperator is an admin of the access service the CLI's update publish
// and roll check: "ops", with a password and a second factor.
type vmOperator struct {
	password, secret string
	last             int64 // the step of the last code used
}

func newVMOperator(t *testing.T, a *archive.Archive) *vmOperator {
	t.Helper()
	ctx := context.Background()
	nu, err := access.AddUser(ctx, a.Index.DB(), a.Now(), "ops", access.Admin, nil)
	if err != nil {
		t.Fatal(err)
	}
	k, err := otp.NewKeyFromURL(nu.TOTPURL)
	if err != nil {
		t.Fatal(err)
	}
	o := &vmOperator{password: "the operator's own password", secret: k.Secret()}
	if err := access.New(a, nil).SetPassword(ctx, "ops", o.password); err != nil {
		t.Fatal(err)
	}
	return o
}

// run runs the CLI with -by ops and the operator's credentials on stdin.
func (o *vmOperator) run(t *testing.T, cli string, args ...string) string {
	t.Helper()
	// A code is good once: the first step after the last one used
	// (now or the next, which the archive takes).
	at := time.Now()
	if at.Unix()/30 <= o.last {
		at = time.Unix((o.last+1)*30, 0)
	}
	o.last = at.Unix() / 30
	code, err := totp.GenerateCodeCustom(o.secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	c := exec.Command(cli, append(args, "-by", "ops")...)
	c.Stdin = strings.NewReader(o.password + "\n" + code + "\n")
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("spanvault-archive %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spanvault/spanvault/archive/access"
)

func init() {
	commands["approve"] = command{"approve a new box's enrollment code as NAME (-replace -reason WHY: a new box for an enrolled name, filed until a second run with another -by approves it); -by NAME: an admin of the access service, whose password and current code are checked; -list: the codes waiting (for operators with shell access)", cmdApprove}
	commands["ca-fingerprint"] = command{"print the SHA-256 of the CA certificate, which an image built for this archive carries", cmdCAFingerprint}
}

func cmdApprove(args []string, stdout io.Writer) error {
	fs, dir := flags("approve")
	code := fs.String("code", "", "the enrollment code the box shows (status page)")
	name := fs.String("name", "", "the box's name")
	list := fs.Bool("list", false, "list the enrollment requests waiting for approval")
	replace := fs.Bool("replace", false, "approve a replacement box for an enrolled name: revokes its certificates for good and resets its pinned audit key (alerted)")
	reason := fs.String("reason", "", "why the box is replaced (required with -replace; audited)")
	op := addOperatorFlags(fs, "who approves (audited; under four eyes the second run is another person)")
	if err := parse(fs, args, "dir"); err != nil {
		return err
	}
	a, err := open(*dir)
	if err != nil {
		return err
	}
	defer a.Close()
	ctx := context.Background()
	if *list {
		es, err := a.Index.PendingEnrollments(ctx, a.Now())
		if err != nil {
			return err
		}
		for _, e := range es {
			fmt.Fprintf(stdout, "%s  from %s at %s, expires %s\n", e.Code, e.Source, e.RequestedAt.UTC().Format(time.RFC3339), e.ExpiresAt.UTC().Format(time.RFC3339))
		}
		return nil
	}
	if *code == "" || *name == "" {
		return errors.New("approve needs -code and -name (or -list)")
	}
	if *replace && strings.TrimSpace(*reason) == "" {
		return errors.New("-replace needs -reason")
	}
	rs := ""
	if *replace {
		rs = *reason
	}
	u, err := op.authenticate(ctx, a, access.ActEnroll)
	if err != nil {
		return err
	}
	ok, err := a.ApproveFourEyes(ctx, *code, *name, u.Name, rs)
	if err != nil {
		return err
	}
	if !ok {
		fmt.Fprintf(stdout, "filed the approval of %s as %s by %s: a second admin confirms it (four-eyes)\n", *code, *name, u.Name)
		return nil
	}
	fmt.Fprintf(stdout, "approved %s as %s: the box receives its certificates at its next request\n", *code, *name)
	return nil
}

func cmdCAFingerprint(args []string, stdout io.Writer) error {
	fs, dir := flags("ca-fingerprint")
	if err := parse(fs, args, "dir"); err != nil {
		return err
	}
	a, err := open(*dir)
	if err != nil {
		return err
	}
	defer a.Close()
	sum := sha256.Sum256(a.CA.Cert.Raw)
	fmt.Fprintf(stdout, "sha256:%s\n", hex.EncodeToString(sum[:]))
	return nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"filippo.io/age"

	"github.com/spanvault/spanvault/archive/keyring"
)

// writeIdentity writes a new age identity file (0600, must not exist):
// hybrid post-quantum (ML-KEM-768 + X25519) unless classical. It returns
// the recipient.
func writeIdentity(path string, classical bool) (string, error) {
	var id, pub fmt.Stringer
	if classical {
		x, err := age.GenerateX25519Identity()
		if err != nil {
			return "", err
		}
		id, pub = x, x.Recipient()
	} else {
		h, err := age.GenerateHybridIdentity()
		if err != nil {
			return "", err
		}
		id, pub = h, h.Recipient()
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	if _, err := fmt.Fprintf(f, "# created by spanvault-archive init\n# public key: %s\n%s\n", pub, id); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", err
	}
	return pub.String(), f.Close()
}

func cmdReseal(args []string, stdout io.Writer) error {
	fs, dir := flags("reseal")
	identity := fs.String("identity", "", "the archive's age identities (0600): the first hybrid one is the new recipient, any of them opens the old headers; default: $"+keyring.EnvVar)
	op := addOperatorFlags(fs, "who runs it (an admin of every branch; in the trail)")
	a, err := parseOpen(fs, dir, args, "dir")
	if err != nil {
		return err
	}
	defer a.Close()
	u, err := op.authenticate(context.Background(), a, policyRight)
	if err != nil {
		return err
	}
	keys, err := keyring.Load(*identity)
	if err != nil {
		return err
	}
	var to age.Recipient
	for _, id := range keys.Identities() {
		if h, ok := id.(*age.HybridIdentity); ok {
			to = h.Recipient()
			break
		}
	}
	if to == nil {
		return errors.New("the identity file holds no hybrid identity (AGE-SECRET-KEY-PQ-1...): make one (spanvault keygen) and add it")
	}
	rep, err := a.Reseal(context.Background(), keys.Identities(), to, u.Name)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d recordings re-sealed to %.20s..., %d were hybrid already, %d classical-only remain\n", rep.Resealed, to, rep.Hybrid, rep.Remaining)
	for _, p := range rep.Problems {
		fmt.Fprintln(stdout, "PROBLEM:", p)
	}
	if len(rep.Problems) > 0 {
		return fmt.Errorf("%d problems", len(rep.Problems))
	}
	return nil
}

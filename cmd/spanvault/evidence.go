package main

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spanvault/spanvault/record/evidence"
)

func init() {
	register("verify-evidence", "check an evidence bundle offline (FILE [-identity ID] [-log-key FILE] [-box-key FILE] [-tsa-cert FILE]) and say what it proves", cmdVerifyEvidence)
}

func cmdVerifyEvidence(args []string, stdout io.Writer) error {
	fs := newFlags("verify-evidence")
	idPath := fs.String("identity", "", "age identity file of the archive: also decrypts the recording and reads it through")
	logKey := fs.String("log-key", "", "the archive's published log verifier key (anchor.vkey): the bundle's checkpoint must be signed with it")
	boxKey := fs.String("box-key", "", "the box's published audit public key (hex or base64): the bundle's ledger must be signed with it")
	tsaCert := fs.String("tsa-cert", "", "PEM certificates of the trusted time-stamping authorities: a bundle's time-stamp token must chain to one")
	// The bundle may come before or after the flags.
	var file string
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		file, args = args[0], args[1:]
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if file == "" && fs.NArg() == 1 {
		file = fs.Arg(0)
	} else if file == "" || fs.NArg() != 0 {
		return usageError{"usage: spanvault verify-evidence FILE [-identity ID] [-log-key FILE] [-box-key FILE] [-tsa-cert FILE]"}
	}
	fi, err := os.Stat(file)
	if err != nil {
		return err
	}
	if fi.Size() > evidence.MaxSize {
		return fmt.Errorf("%s: %d bytes, more than a bundle may be", file, fi.Size())
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var opt evidence.Options
	if *logKey != "" {
		k, err := os.ReadFile(*logKey)
		if err != nil {
			return err
		}
		opt.LogKey = string(k)
	}
	if *boxKey != "" {
		k, err := os.ReadFile(*boxKey)
		if err != nil {
			return err
		}
		if opt.BoxKey, err = parseBoxKey(string(k)); err != nil {
			return fmt.Errorf("%s: %w", *boxKey, err)
		}
	}
	var roots *x509.CertPool
	if *tsaCert != "" {
		pem, err := os.ReadFile(*tsaCert)
		if err != nil {
			return err
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return fmt.Errorf("%s holds no PEM certificate", *tsaCert)
		}
	}
	opt.CheckTimestamp = evidence.RFC3161(roots)
	rep, err := evidence.Verify(data, opt)
	for _, p := range rep.Proven {
		fmt.Fprintln(stdout, "proven:", p)
	}
	for _, p := range rep.Unverified {
		fmt.Fprintln(stdout, "unverified:", p)
	}
	if err != nil {
		var be *evidence.BrokenError
		if errors.As(err, &be) {
			fmt.Fprintf(stdout, "NOT PROVEN: the %s does not hold: %s\n", be.Proof, be.Reason)
		}
		return err
	}
	if *idPath != "" {
		ids, err := loadIdentity(*idPath)
		if err != nil {
			return err
		}
		b, _ := evidence.Parse(data)
		c, err := evidence.Decrypt(b.Recording, ids)
		if err != nil {
			fmt.Fprintf(stdout, "NOT PROVEN: the recording does not decrypt and read through: %v\n", err)
			return err
		}
		end := "it ends with its end record"
		if !c.Complete {
			end = "it was cut short (no end record)"
		}
		fmt.Fprintf(stdout, "proven: The recording decrypts with the identity and every chunk authenticates: %d frames from %s to %s, %d call records; %s.\n",
			c.Frames, c.First.UTC().Format(time.RFC3339), c.Last.UTC().Format(time.RFC3339), c.Meta, end)
	}
	if !rep.LogKeyChecked {
		// Consistent in itself is all a bundle shows against its own
		// keys: anyone can make a log key, a box key and a TSA.
		fmt.Fprintf(stdout, "UNVERIFIED: no archive log key given: the bundle is consistent in itself under the log key it names (%s), which proves nothing until that key is the archive's published one (-log-key).\n", rep.LogKey)
		return errors.New("verify-evidence: unverified: no archive log key given")
	}
	signer := ""
	if !rep.BoxKeyChecked {
		signer = " (the ledger's signer is the key the bundle names, not checked against the box's: -box-key)"
	}
	fmt.Fprintf(stdout, "OK: recording %s of %s (%s) is the one the box recorded and listed in its ledger of %s%s, unaltered, and anchored in the archive's log.\n", rep.ID, rep.Appliance, rep.Entry.Start.UTC().Format(time.RFC3339), rep.Day, signer)
	return nil
}

// parseBoxKey reads an Ed25519 public key written in hex or base64.
func parseBoxKey(s string) (ed25519.PublicKey, error) {
	s = strings.TrimSpace(s)
	k, err := hex.DecodeString(s)
	if err != nil {
		k, err = base64.StdEncoding.DecodeString(s)
	}
	if err != nil || len(k) != ed25519.PublicKeySize {
		return nil, errors.New("not an Ed25519 public key in hex or base64")
	}
	return k, nil
}

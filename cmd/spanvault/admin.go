package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"filippo.io/age"

	"github.com/spanvault/spanvault/appliance/config"
	"github.com/spanvault/spanvault/vault"
	"github.com/spanvault/spanvault/vault/audit"
)

func init() {
	register("keygen", "write a new age identity file (mode 0600) and print its recipient", cmdKeygen)
	register("erase", "erase a recording, or every recording of a subject (GDPR Art. 17)", cmdErase)
	register("hold", "put a recording or a subject on legal hold", cmdHold)
	register("release", "release a legal hold", cmdRelease)
	register("subject-report", "report everything held on a subject, including deletions (GDPR Art. 15)", cmdSubjectReport)
	register("audit", "audit verify: check the audit chain; audit list: print entries", cmdAudit)
	register("fsck", "check the index against the files (repair only with -repair)", cmdFsck)
	register("retention", "run a retention sweep now", cmdRetention)
}

func cmdKeygen(args []string, stdout io.Writer) error {
	fs := newFlags("keygen")
	out := fs.String("o", "", "identity file to write (must not exist)")
	classical := fs.Bool("x25519", false, "make a classical X25519 identity (age1...) instead of a hybrid post-quantum one (age1pq1...)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := need(fs, "o"); err != nil {
		return err
	}
	// A hybrid identity (ML-KEM-768 + X25519) by default: recordings are
	// kept for years, longer than X25519 may resist a quantum computer.
	var id, pub fmt.Stringer
	if *classical {
		x, err := age.GenerateX25519Identity()
		if err != nil {
			return err
		}
		id, pub = x, x.Recipient()
	} else {
		h, err := age.GenerateHybridIdentity()
		if err != nil {
			return err
		}
		id, pub = h, h.Recipient()
	}
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(f, "# created by spanvault keygen\n# public key: %s\n%s\n", pub, id); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintln(stdout, pub)
	return nil
}

// target is what erase and hold act on: one recording, or every recording
// of a subject (which needs the identity to find them).
type target struct {
	id, subject, reason, by string
	ids                     []age.Identity
	v                       *vault.Vault
}

func parseTarget(name string, args []string, what string) (*target, error) {
	fs := newFlags(name)
	dir := fs.String("vault", "", "vault directory")
	id := fs.String("id", "", "recording ID to "+what)
	subject := fs.String("subject", "", what+" every recording of this number (needs -identity)")
	idPath := fs.String("identity", "", "age identity file (for -subject)")
	recipPath := fs.String("recipient", "", "file of the archive's age recipients: the free-text reason is sealed to them (without it, an erasure's reason stays in clear on the box)")
	reason := fs.String("reason", "", "why (kept in the audit trail)")
	by := fs.String("by", "cli", "who does it (audited)")
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	if err := need(fs, "vault", "reason"); err != nil {
		return nil, err
	}
	if (*id == "") == (*subject == "") {
		return nil, usageError{"give exactly one of -id and -subject"}
	}
	t := &target{id: *id, subject: *subject, reason: *reason, by: *by}
	if *subject != "" {
		var err error
		if t.ids, err = loadIdentity(*idPath); err != nil {
			return nil, err
		}
	}
	var err error
	if t.v, err = openVault(*dir, false); err != nil {
		return t, err
	}
	var recips []age.Recipient
	if *recipPath != "" {
		if recips, err = config.ReadRecipients(*recipPath); err != nil {
			t.v.Close()
			return t, err
		}
	}
	// A subject hold seals the number for the archive: to the identity's
	// own recipient when no other is given (it was failing with "no
	// recipients configured: cannot seal").
	// (The first identity's only: hybrid and X25519 recipients are never
	// mixed in one file.)
	for _, i := range t.ids {
		if *recipPath != "" || len(recips) > 0 {
			break
		}
		switch x := i.(type) {
		case *age.X25519Identity:
			recips = append(recips, x.Recipient())
		case *age.HybridIdentity:
			recips = append(recips, x.Recipient())
		}
	}
	if len(recips) > 0 {
		t.v.Close()
		t.v, err = vault.Open(vault.Options{Dir: *dir, Recipients: recips})
	}
	return t, err
}

func cmdErase(args []string, stdout io.Writer) error {
	t, err := parseTarget("erase", args, "erase")
	if err != nil {
		return err
	}
	defer t.v.Close()
	if t.id != "" {
		if err := t.v.Erase(t.id, t.reason, t.by); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "erased %s\n", t.id)
		return nil
	}
	erased, held, err := t.v.EraseSubject(t.subject, t.reason, t.by, t.ids)
	for _, e := range erased {
		fmt.Fprintf(stdout, "erased %s\n", e)
	}
	for _, h := range held {
		fmt.Fprintf(stdout, "kept %s: on legal hold\n", h)
	}
	if err == nil && len(held) > 0 {
		err = fmt.Errorf("%d recordings on legal hold were not erased", len(held))
	}
	return err
}

func cmdHold(args []string, stdout io.Writer) error {
	t, err := parseTarget("hold", args, "hold")
	if err != nil {
		return err
	}
	defer t.v.Close()
	if t.id != "" {
		hid, err := t.v.Hold(t.id, t.reason, t.by)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, hid)
		return nil
	}
	hid, held, err := t.v.HoldSubject(t.subject, t.reason, t.by, t.ids)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s (%d recordings now held; later recordings of the subject will be held too)\n", hid, len(held))
	return nil
}

func cmdRelease(args []string, stdout io.Writer) error {
	fs := newFlags("release")
	dir := fs.String("vault", "", "vault directory")
	hid := fs.String("hold", "", "hold ID (as printed by hold)")
	reason := fs.String("reason", "", "why")
	by := fs.String("by", "cli", "who releases")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := need(fs, "vault", "hold", "reason"); err != nil {
		return err
	}
	v, err := openVault(*dir, false)
	if err != nil {
		return err
	}
	defer v.Close()
	n, err := v.Release(*hid, *reason, *by)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "released %s from %d records\n", *hid, n)
	return nil
}

func cmdSubjectReport(args []string, stdout io.Writer) error {
	fs := newFlags("subject-report")
	dir := fs.String("vault", "", "vault directory")
	idPath := fs.String("identity", "", "age identity file")
	subject := fs.String("subject", "", "the subject's number")
	html := fs.String("html", "", "also write a readable HTML report to this file")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := need(fs, "vault", "identity", "subject"); err != nil {
		return err
	}
	v, ids, err := openWithIdentity(*dir, *idPath, true)
	if err != nil {
		return err
	}
	defer v.Close()
	rep, err := v.Report(*subject, ids)
	if err != nil {
		return err
	}
	if *html != "" {
		f, err := os.OpenFile(*html, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		if err := rep.WriteHTML(f); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

func cmdAudit(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usageError{"audit verify -vault DIR | audit list -vault DIR"}
	}
	sub := args[0]
	fs := newFlags("audit " + sub)
	dir := fs.String("vault", "", "vault directory")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if err := need(fs, "vault"); err != nil {
		return err
	}
	v, err := openVault(*dir, true)
	if err != nil {
		return err
	}
	defer v.Close()
	switch sub {
	case "verify":
		n, err := v.VerifyAudit()
		if err != nil {
			var be *audit.BrokenError
			if errors.As(err, &be) {
				return fmt.Errorf("FAILED: %w", be)
			}
			return err
		}
		fmt.Fprintf(stdout, "audit chain OK: %d entries, head signed by the appliance key\n", n)
		ks, _ := v.KeySpans()
		for i, k := range ks {
			to := "the head"
			if i+1 < len(ks) {
				to = fmt.Sprintf("entry %d", ks[i+1].FromSeq-1)
			}
			fmt.Fprintf(stdout, "  key %s signed from entry %d to %s (since %s)\n", k.Fingerprint, k.FromSeq, to, k.Since.Format(time.RFC3339))
		}
		if len(ks) > 1 {
			fmt.Fprintf(stdout, "  WARNING: the signing key changed %d times; the archive refuses heads not signed by the key it pinned\n", len(ks)-1)
		}
		return nil
	case "list":
		es, err := v.AuditEntries(1, 1<<30)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		for _, e := range es {
			enc.Encode(e)
		}
		return nil
	}
	return usageError{"unknown audit command " + sub}
}

func cmdFsck(args []string, stdout io.Writer) error {
	fs := newFlags("fsck")
	dir := fs.String("vault", "", "vault directory")
	repair := fs.Bool("repair", false, "repair what can be repaired without losing anything, and say what was done")
	cfgPath := fs.String("config", "", "the box's configuration: recordings re-indexed by -repair get its default retention class")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := need(fs, "vault"); err != nil {
		return err
	}
	v, err := openForFsck(*dir, *repair, *cfgPath, stdout)
	if err != nil {
		return err
	}
	defer v.Close()
	rep, err := v.Fsck(*repair)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d index entries, %d files\n", rep.Entries, rep.Files)
	for _, p := range rep.Problems {
		fmt.Fprintf(stdout, "problem: %s\n", p)
	}
	for _, r := range rep.Repaired {
		fmt.Fprintf(stdout, "repaired: %s\n", r)
	}
	if rep.AuditOK {
		fmt.Fprintln(stdout, "audit chain OK")
	} else {
		fmt.Fprintf(stdout, "audit chain: %s\n", rep.AuditError)
	}
	if !rep.Clean() && len(rep.Repaired) < len(rep.Problems) {
		return errors.New("vault is not clean")
	}
	if rep.Clean() {
		fmt.Fprintln(stdout, "clean")
	}
	return nil
}

func cmdRetention(args []string, stdout io.Writer) error {
	fs := newFlags("retention")
	dir := fs.String("vault", "", "vault directory")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := need(fs, "vault"); err != nil {
		return err
	}
	v, err := vault.Open(vault.Options{Dir: *dir})
	if err != nil {
		return err
	}
	defer v.Close()
	res, err := v.Sweep()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "examined %d, deleted %d %s\n", res.Examined, res.Deleted, res.Skipped)
	return nil
}

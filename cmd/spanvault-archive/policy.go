package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/sync/wire"
)

func init() {
	commands["policy"] = command{"central policy: policy set -target box:NAME|group:NAME -f FILE [-legal A,B] -by NAME; policy show -box NAME | -target T; policy group -box NAME -group G -by NAME (set and group: an admin of every branch, credentials checked)", cmdPolicy}
}

// policyRight is the right policy set and group need: the fleet's
// administration, by an admin of every branch (like update roll).
const policyRight = access.ActEnroll

func cmdPolicy(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("policy set|show|group")
	}
	ctx := context.Background()
	switch args[0] {
	case "set":
		fs, dir := flags("policy set")
		target := fs.String("target", "", "box:NAME or group:NAME")
		file := fs.String("f", "", "the policy: the box's configuration syntax, [retention], [capture] extensions, [sync] window and rate")
		legal := fs.String("legal", "", "classes a law requires to be kept, comma-separated")
		op := addOperatorFlags(fs, "who sets it (an admin of every branch; audited)")
		a, err := parseOpen(fs, dir, args[1:], "dir", "target", "f")
		if err != nil {
			return err
		}
		defer a.Close()
		u, err := op.authenticate(ctx, a, policyRight)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(*file)
		if err != nil {
			return err
		}
		var ls []string
		if *legal != "" {
			ls = strings.Split(*legal, ",")
		}
		v, err := a.SetPolicy(ctx, *target, string(b), ls, u.Name)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "policy version %d set for %s: boxes receive it at their next check-in\n", v, *target)
		return nil
	case "group":
		fs, dir := flags("policy group")
		box := fs.String("box", "", "the box")
		group := fs.String("group", "", "its policy group (empty: none)")
		op := addOperatorFlags(fs, "who sets it (an admin of every branch; audited)")
		a, err := parseOpen(fs, dir, args[1:], "dir", "box")
		if err != nil {
			return err
		}
		defer a.Close()
		u, err := op.authenticate(ctx, a, policyRight)
		if err != nil {
			return err
		}
		if err := a.SetPolicyGroupBy(ctx, *box, *group, u.Name); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s takes its policy from group %q when it has none of its own\n", *box, *group)
		return nil
	case "show":
		fs, dir := flags("policy show")
		box := fs.String("box", "", "the box: the policy in force for it, and what it reported")
		target := fs.String("target", "", "box:NAME or group:NAME: its newest policy")
		a, err := parseOpen(fs, dir, args[1:], "dir")
		if err != nil {
			return err
		}
		defer a.Close()
		var sp *wire.SignedPolicy
		switch {
		case *box != "":
			_, sp, err = a.PolicyFor(ctx, *box)
		case *target != "":
			var p *index.Policy
			p, err = a.Index.LatestPolicy(ctx, *target)
			if err == nil {
				sp = new(wire.SignedPolicy)
				err = json.Unmarshal([]byte(p.Doc), sp)
			}
		default:
			return errors.New("policy show needs -box or -target")
		}
		if err != nil {
			return err
		}
		var d wire.PolicyDoc
		if err := json.Unmarshal(sp.Doc, &d); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "target %s version %d, set %s by %s\n", d.Target, d.Version, d.Issued.Format("2006-01-02 15:04"), d.By)
		if len(d.LegalRetention) > 0 {
			fmt.Fprintf(stdout, "legal retention: %s\n", strings.Join(d.LegalRetention, ", "))
		}
		if *box != "" {
			st, err := a.Index.PolicyState(ctx, *box)
			if err != nil {
				return err
			}
			drift := "in force"
			if st.Version != d.Version {
				drift = fmt.Sprintf("DRIFT: the box applied version %d", st.Version)
			}
			fmt.Fprintf(stdout, "%s: %s", *box, drift)
			if st.Refused != "" {
				fmt.Fprintf(stdout, "; last refused: %s", st.Refused)
			}
			fmt.Fprintln(stdout)
		}
		fmt.Fprintf(stdout, "---\n%s", d.Config)
		return nil
	}
	return fmt.Errorf("policy %s: set, show or group", args[0])
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/sync/wire"
)

// The commands that act on recordings do so as the person -by names,
// checked like the web sign-in, with the web workspace's rights,
// branches and four eyes (archive/access cli.go): a hold at once (a
// DPO), an erasure or a hold's release as a request a second DPO
// approves, a recording or its evidence bundle as an export a second
// person approves and the requester then writes once.

func init() {
	commands["request"] = command{"four-eyes requests: request list|approve|reject [-id N] -by NAME (approve what another person filed: an erasure, a release, an export, a new user, a reset)", cmdRequest}
}

// cmdBox is erase, hold, release and pull.
func cmdBox(kind string) func([]string, io.Writer) error {
	return func(args []string, stdout io.Writer) error {
		fs, dir := flags(kind)
		app := fs.String("appliance", "", "box name")
		id := fs.String("id", "", "recording ID")
		all := fs.Bool("all", false, "everything pending (pull only)")
		reason := fs.String("reason", "", "why (kept in both audit trails; required for erase, hold and release)")
		op := addOperatorFlags(fs, "who asks (audited)")
		if err := parse(fs, args, "dir", "appliance"); err != nil {
			return err
		}
		if (*id == "") == !*all {
			return errors.New("give -id ID or -all")
		}
		if *all && kind != wire.CmdPull {
			return fmt.Errorf("-all is for pull only; %s names one recording", kind)
		}
		if kind != wire.CmdPull && strings.TrimSpace(*reason) == "" {
			return fmt.Errorf("%s needs -reason", kind)
		}
		a, err := open(*dir)
		if err != nil {
			return err
		}
		defer a.Close()
		ctx := context.Background()
		if _, err := a.Index.Appliance(ctx, *app); err != nil {
			return err
		}
		act := map[string]access.Action{wire.CmdPull: boxRight, wire.CmdHold: access.ActHold, wire.CmdErase: access.ActErase, wire.CmdRelease: access.ActRelease}[kind]
		u, svc, err := op.operator(ctx, a, act)
		if err != nil {
			return err
		}
		var n int64
		switch kind {
		case wire.CmdPull:
			if err := inScope(ctx, a, u, *app, "pull"); err != nil {
				return err
			}
			n, err = a.Command(ctx, *app, kind, *id, *all, *reason, u.Name)
		case wire.CmdHold:
			n, err = svc.Hold(ctx, u, *app, *id, *reason)
		default: // erase, release: four eyes, as in the workspace
			req, err := svc.FileRequest(ctx, u, access.RequestInput{Kind: kind, Appliance: *app, Recording: *id, Reason: *reason})
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "request %d filed: %s of %s/%s waits for a second person (a DPO other than %s) to approve it: spanvault-archive request approve -id %d -by NAME, or the workspace's requests page\n",
				req.ID, kind, *app, *id, u.Name, req.ID)
			return nil
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "command %d queued by %s: %s %s; delivered at %s's next check-in\n", n, u.Name, kind, *id, *app)
		return nil
	}
}

// boxRight is the right pull needs: the fleet's administration (an
// admin), within the admin's branches.
const boxRight = access.ActEnroll

func cmdRequest(args []string, stdout io.Writer) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "approve" && args[0] != "reject") {
		return errors.New("usage: request list -dir DIR -by NAME | request approve|reject -dir DIR -id N -by NAME")
	}
	fs, dir := flags("request " + args[0])
	id := fs.Int64("id", 0, "the request")
	op := addOperatorFlags(fs, "who decides (not who filed it; audited)")
	a, err := parseOpen(fs, dir, args[1:], "dir")
	if err != nil {
		return err
	}
	defer a.Close()
	ctx := context.Background()
	if args[0] != "list" && *id <= 0 {
		return errors.New("-id N is required")
	}
	u, svc, err := op.operator(ctx, a, "")
	if err != nil {
		return err
	}
	if args[0] == "list" {
		rs, err := svc.Requests(ctx, u)
		if err != nil {
			return err
		}
		for _, r := range rs {
			what := r.Target.Appliance + "/" + r.Target.Recording
			if r.Target.User != "" {
				what = "user " + r.Target.User
			}
			fmt.Fprintf(stdout, "%d\t%s\t%s\t%s\tby %s at %s\t%s\n", r.ID, r.State, r.Kind, what, r.RequestedBy, r.RequestedAt.UTC().Format(time.RFC3339), r.Reason)
		}
		return nil
	}
	r, err := svc.DecideRequest(ctx, u, *id, args[0] == "approve")
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "request %d (%s by %s) %s by %s: %s", r.ID, r.Kind, r.RequestedBy, map[bool]string{true: "approved", false: "rejected"}[args[0] == "approve"], u.Name, r.State)
	if r.Result != "" {
		fmt.Fprintf(stdout, ": %s", r.Result)
	}
	fmt.Fprintln(stdout)
	if r.SetupLink != "" {
		fmt.Fprintf(stdout, "setup link for %s (single use, valid %s; hand it to them only): %s\n", r.Target.User, access.SetupLinkTTL, r.SetupLink)
	}
	return nil
}

// exportFlags are get's and evidence's: file an export, or write an
// approved one.
type exportFlags struct {
	app, id, reason, out *string
	request              *int64
	op                   operatorFlags
}

func addExportFlags(fs interface {
	String(name, value, usage string) *string
	Int64(name string, value int64, usage string) *int64
}) exportFlags {
	return exportFlags{
		app:     fs.String("appliance", "", "box name (filing an export)"),
		id:      fs.String("id", "", "recording ID (filing an export)"),
		reason:  fs.String("reason", "", "why (filing an export; audited)"),
		request: fs.Int64("request", 0, "the approved export request to write (yours, once)"),
		out:     fs.String("o", "", "file to write (must not exist; with -request)"),
	}
}

// run files an export (-appliance -id -reason) or writes the approved
// export -request to -o with make (format names it in the trail).
func (x exportFlags) run(ctx context.Context, a *archive.Archive, stdout io.Writer, format string, make func(*index.Record, io.Writer) (int64, error)) error {
	if *x.request == 0 {
		if *x.app == "" || *x.id == "" || strings.TrimSpace(*x.reason) == "" {
			return errors.New("an export is filed first (-appliance NAME -id ID -reason WHY) and written once a second person approved it (-request N -o FILE)")
		}
		u, svc, err := x.op.operator(ctx, a, access.ActExport)
		if err != nil {
			return err
		}
		req, err := svc.FileRequest(ctx, u, access.RequestInput{Kind: access.ReqExport, Appliance: *x.app, Recording: *x.id, Reason: *x.reason})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "request %d filed: the export of %s/%s waits for a second person (compliance or DPO) to approve it; then write it with -request %d -o FILE -by %s\n", req.ID, *x.app, *x.id, req.ID, u.Name)
		return nil
	}
	if *x.out == "" {
		return errors.New("-o FILE is required with -request")
	}
	u, svc, err := x.op.operator(ctx, a, access.ActExport)
	if err != nil {
		return err
	}
	var n int64
	written := false
	err = svc.Export(ctx, u, *x.request, format, func(rec *index.Record) error {
		f, err := os.OpenFile(*x.out, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		written = true
		if n, err = make(rec, f); err != nil {
			f.Close()
			return err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	})
	if err != nil {
		if written {
			os.Remove(*x.out)
		}
		return err
	}
	fmt.Fprintf(stdout, "export %d written to %s (%s, %d bytes) for %s\n", *x.request, *x.out, format, n, u.Name)
	return nil
}

// cmdGet writes a sealed recording exactly as the box sealed it: an
// export, approved by a second person.
func cmdGet(args []string, stdout io.Writer) error {
	fs, dir := flags("get")
	x := addExportFlags(fs)
	x.op = addOperatorFlags(fs, "who asks (compliance: files the export, and writes it once approved)")
	a, err := parseOpen(fs, dir, args, "dir")
	if err != nil {
		return err
	}
	defer a.Close()
	ctx := context.Background()
	return x.run(ctx, a, stdout, "sealed", func(rec *index.Record, w io.Writer) (int64, error) {
		rc, _, err := a.Store.Open(ctx, rec.SHA256)
		if err != nil {
			return 0, err
		}
		defer rc.Close()
		return io.Copy(w, rc)
	})
}

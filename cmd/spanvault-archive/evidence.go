package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spanvault/spanvault/archive"
)

func init() {
	commands["evidence"] = command{"write an evidence bundle of a recording that spanvault verify-evidence checks offline (-appliance NAME -id ID -o FILE)", cmdEvidence}
}

func cmdEvidence(args []string, stdout io.Writer) error {
	fs, dir := flags("evidence")
	app := fs.String("appliance", "", "box name")
	id := fs.String("id", "", "recording ID")
	out := fs.String("o", "", "file to write (must not exist)")
	by := fs.String("by", "", "who asks for it (audited; default: the user running the command)")
	tsa := fs.String("tsa", "", "RFC 3161 time-stamping authority URL for a token over the checkpoint (default: the configuration's [access] timestamp_url; \"none\": no token)")
	a, err := parseOpen(fs, dir, args, "dir", "appliance", "id", "o")
	if err != nil {
		return err
	}
	defer a.Close()
	ctx := context.Background()
	who := *by
	if who == "" {
		who = "cli:" + os.Getenv("USER")
	}
	var ts archive.Timestamper
	switch url := cmp.Or(*tsa, a.Config.Access.TimestampURL); url {
	case "", "none":
	default:
		ts = archive.RFC3161(url, nil)
	}
	b, err := a.Evidence(ctx, *app, *id, ts)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(*out, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(*out)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(*out)
		return err
	}
	a.Event(ctx, "evidence_exported", who, *app, fmt.Sprintf("evidence bundle of %s (%d bytes) written by the command line", *id, len(b)), false)
	fmt.Fprintf(stdout, "evidence bundle of %s/%s: %s (%d bytes)\n", *app, *id, *out, len(b))
	return nil
}

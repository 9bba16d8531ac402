package main

import (
	"cmp"
	"context"
	"io"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/index"
)

func init() {
	commands["evidence"] = command{"an evidence bundle of a recording that spanvault verify-evidence checks offline, as an export: filed (-appliance NAME -id ID -reason WHY -by NAME), approved by a second person, written once (-request N -o FILE -by NAME)", cmdEvidence}
}

func cmdEvidence(args []string, stdout io.Writer) error {
	fs, dir := flags("evidence")
	x := addExportFlags(fs)
	x.op = addOperatorFlags(fs, "who asks (compliance: files the export, and writes it once approved)")
	tsa := fs.String("tsa", "", "RFC 3161 time-stamping authority URL for a token over the checkpoint (default: the configuration's [access] timestamp_url; \"none\": no token)")
	a, err := parseOpen(fs, dir, args, "dir")
	if err != nil {
		return err
	}
	defer a.Close()
	ctx := context.Background()
	var ts archive.Timestamper
	switch url := cmp.Or(*tsa, a.Config.Access.TimestampURL); url {
	case "", "none":
	default:
		ts = archive.RFC3161(url, nil)
	}
	return x.run(ctx, a, stdout, "evidence", func(rec *index.Record, w io.Writer) (int64, error) {
		b, err := a.Evidence(ctx, rec.Appliance, rec.ID, ts)
		if err != nil {
			return 0, err
		}
		n, err := w.Write(b)
		return int64(n), err
	})
}

package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/sync/wire"
)

func init() {
	commands["update"] = command{"firmware updates: update sign|publish|list|roll|approve|status|stop (update help: the flags)", cmdUpdate}
}

const updateUsage = `usage:
  update sign    -root FILE -boot FILE -serial N -version V [-arch arm64] -o OUTDIR -key update.key
                 (the update key may live offline; -dir ARCHIVE reads ARCHIVE/update.key while it is there)
  update publish -dir ARCHIVE -update UPDATEDIR -by NAME
  update list    -dir ARCHIVE
  update roll    -dir ARCHIVE -serial N [-target group:NAME|box:NAME] [-canary BOX] -percent P -threshold F [-confirm 20m] [-deadline 48h] -by NAME
  update approve -dir ARCHIVE -rollout ID -by NAME        (four-eyes: a second admin starts a filed rollout)
  update status  -dir ARCHIVE [-rollout ID] [-json]
  update stop    -dir ARCHIVE -rollout ID -reason WHY -by NAME
publish, roll, approve and stop check -by like approve: an admin of every branch of the access service, whose
password and current second-factor code are read from stdin or a 0600 -credentials-file. A rollout to
more than one box is always filed until a second admin approves it (four eyes); one to a single box
only under [enroll] four_eyes`

func cmdUpdate(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(updateUsage)
	}
	ctx := context.Background()
	switch args[0] {
	case "help", "-h":
		fmt.Fprintln(stdout, updateUsage)
		return nil
	case "sign":
		fs, dir := flags("update sign")
		root := fs.String("root", "", "the root file system (squashfs)")
		boot := fs.String("boot", "", "the boot partition (FAT)")
		serial := fs.Uint64("serial", 0, "the build's serial: above every serial published before")
		version := fs.String("version", "", "the build's name (2026.12.06-1)")
		arch := fs.String("arch", "arm64", "GOARCH of the build")
		out := fs.String("o", "", "the update directory to write (update.json, root.squashfs, boot.fat)")
		keyFile := fs.String("key", "", "the update key file (kept offline; without -key: ARCHIVE/"+archive.UpdateKeyFile+" if it is there)")
		if err := parse(fs, args[1:], "root", "boot", "version", "o"); err != nil {
			return err
		}
		var key ed25519.PrivateKey
		var err error
		switch {
		case *keyFile != "":
			key, err = archive.ReadUpdateKey(*keyFile)
		case *dir != "":
			if key, err = archive.ReadUpdateKey(filepath.Join(*dir, archive.UpdateKeyFile)); errors.Is(err, os.ErrNotExist) {
				err = fmt.Errorf("%w: the update key is not in the archive's directory (kept offline?): sign with -key FILE", err)
			}
		default:
			return errors.New("-dir ARCHIVE or -key FILE is required")
		}
		if err != nil {
			return err
		}
		su, err := archive.SignUpdateDir(key, wire.UpdateManifest{Serial: *serial, Version: *version, Built: time.Now().UTC().Truncate(time.Second), Arch: *arch}, *root, *boot, *out)
		if err != nil {
			return err
		}
		var m wire.UpdateManifest
		if err := json.Unmarshal(su.Manifest, &m); err != nil {
			return fmt.Errorf("update sign: %w", err)
		}
		fmt.Fprintf(stdout, "update %d (version %s, %s) signed into %s: root %d bytes, boot %d bytes\n", m.Serial, m.Version, m.Arch, *out, m.Root.Size, m.Boot.Size)
		return nil
	case "publish":
		fs, dir := flags("update publish")
		upd := fs.String("update", "", "the update directory (update.json, root.squashfs, boot.fat)")
		op := addOperatorFlags(fs, "who publishes (audited)")
		a, err := parseOpen(fs, dir, args[1:], "dir", "update")
		if err != nil {
			return err
		}
		defer a.Close()
		u, err := op.authenticate(ctx, a, rolloutRight)
		if err != nil {
			return err
		}
		m, err := a.Publish(ctx, *upd, u.Name)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "update %d (version %s, %s) published: roll it out with update roll -serial %d\n", m.Serial, m.Version, m.Arch, m.Serial)
		return nil
	case "list":
		fs, dir := flags("update list")
		a, err := parseOpen(fs, dir, args[1:], "dir")
		if err != nil {
			return err
		}
		defer a.Close()
		us, err := a.Index.Updates(ctx)
		if err != nil {
			return err
		}
		for _, u := range us {
			fmt.Fprintf(stdout, "%d\t%s\t%s\troot %d, boot %d bytes\tpublished %s by %s\n", u.Serial, u.Version, u.Arch, u.RootSize, u.BootSize, u.PublishedAt.UTC().Format("2006-01-02 15:04"), u.PublishedBy)
		}
		return nil
	case "roll":
		fs, dir := flags("update roll")
		serial := fs.Uint64("serial", 0, "the published update to roll out")
		target := fs.String("target", "", "group:NAME (a policy group) or box:NAME; default: every enrolled box")
		canary := fs.String("canary", "", "the box that gets it first, alone (wave 0); required unless the target is one box")
		percent := fs.Int("percent", 10, "wave 1: this percentage of the target, after the canary confirmed")
		threshold := fs.Float64("threshold", 0.1, "a wave stops the rollout when more than this fraction of its boxes failed (0: any failure)")
		confirm := fs.Duration("confirm", 20*time.Minute, "how long new firmware has to check in healthy before it boots the old again")
		deadline := fs.Duration("deadline", archive.DefaultRolloutDeadline, "a box offered the update and not confirmed this long after counts as failed")
		op := addOperatorFlags(fs, "who rolls it out (audited; a rollout to more than one box is started by a second admin)")
		a, err := parseOpen(fs, dir, args[1:], "dir", "serial")
		if err != nil {
			return err
		}
		defer a.Close()
		u, err := op.authenticate(ctx, a, rolloutRight)
		if err != nil {
			return err
		}
		r, err := a.Roll(ctx, archive.RollOptions{Serial: *serial, Target: *target, Canary: *canary, Percent: *percent, Threshold: *threshold,
			ConfirmWithin: *confirm, Deadline: *deadline, By: u.Name})
		if err != nil {
			return err
		}
		if r.State == index.RolloutFiled {
			fmt.Fprintf(stdout, "rollout %d filed by %s: a second admin starts it with update approve -rollout %d (four-eyes)\n", r.ID, u.Name, r.ID)
			return nil
		}
		fmt.Fprintf(stdout, "rollout %d of update %d started: %s is offered it at its next check-in\n", r.ID, r.Serial, r.Canary)
		return nil
	case "approve":
		fs, dir := flags("update approve")
		id := fs.Int64("rollout", 0, "the filed rollout")
		op := addOperatorFlags(fs, "who approves (not who filed it)")
		a, err := parseOpen(fs, dir, args[1:], "dir", "rollout")
		if err != nil {
			return err
		}
		defer a.Close()
		u, err := op.authenticate(ctx, a, rolloutRight)
		if err != nil {
			return err
		}
		if err := a.ApproveRollout(ctx, *id, u.Name); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "rollout %d approved and started\n", *id)
		return nil
	case "stop":
		fs, dir := flags("update stop")
		id := fs.Int64("rollout", 0, "the rollout")
		reason := fs.String("reason", "", "why (audited)")
		op := addOperatorFlags(fs, "who stops it (audited)")
		a, err := parseOpen(fs, dir, args[1:], "dir", "rollout", "reason")
		if err != nil {
			return err
		}
		defer a.Close()
		u, err := op.authenticate(ctx, a, rolloutRight)
		if err != nil {
			return err
		}
		if err := a.StopRollout(ctx, *id, *reason, u.Name); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "rollout %d stopped: nothing more is offered\n", *id)
		return nil
	case "status":
		fs, dir := flags("update status")
		id := fs.Int64("rollout", 0, "one rollout, with each box (default: every rollout, summed up)")
		asJSON := fs.Bool("json", false, "JSON (archive.RolloutStatus, one a line)")
		a, err := parseOpen(fs, dir, args[1:], "dir")
		if err != nil {
			return err
		}
		defer a.Close()
		if err := a.AdvanceRollouts(ctx); err != nil {
			return err
		}
		var ids []int64
		if *id != 0 {
			ids = []int64{*id}
		} else {
			rs, err := a.Index.Rollouts(ctx, "")
			if err != nil {
				return err
			}
			for _, r := range rs {
				ids = append(ids, r.ID)
			}
		}
		enc := json.NewEncoder(stdout)
		for _, i := range ids {
			st, err := a.Rollout(ctx, i)
			if err != nil {
				return err
			}
			if *asJSON {
				enc.Encode(st)
				continue
			}
			printRollout(stdout, st, *id != 0)
		}
		return nil
	}
	return fmt.Errorf("update %s: unknown\n%s", args[0], updateUsage)
}

// rolloutRight is the right update roll, approve and stop need: the
// fleet administration an admin of every branch has (the enrollment
// right: who may add a box to the fleet may change its firmware).
const rolloutRight = access.ActEnroll

func printRollout(w io.Writer, st *archive.RolloutStatus, boxes bool) {
	fmt.Fprintf(w, "rollout %d: update %d (%s) to %s, %s", st.ID, st.Serial, st.Version, targetOrAll(st.Target), st.State)
	if st.State == index.RolloutActive {
		fmt.Fprintf(w, ", wave %d since %s", st.Wave, st.WaveStartedAt.UTC().Format("2006-01-02 15:04"))
	}
	if st.EndReason != "" {
		fmt.Fprintf(w, " (%s)", st.EndReason)
	}
	fmt.Fprintf(w, "\n  by %s at %s; canary %s, wave 1 %d %%, threshold %g, confirm within %s, deadline %s\n", st.CreatedBy, st.CreatedAt.UTC().Format("2006-01-02 15:04"), st.Canary, st.Percent, st.Threshold, st.ConfirmWithin, st.Deadline)
	for i, wc := range st.Waves {
		fmt.Fprintf(w, "  wave %d: %d boxes: %d confirmed, %d failed, %d skipped, %d in flight, %d waiting\n", i, wc.Boxes, wc.Confirmed, wc.Failed, wc.Skipped, wc.InFlight, wc.Waiting)
	}
	if !boxes {
		return
	}
	for _, b := range st.Boxes {
		line := fmt.Sprintf("  %d %-24s %s", b.Wave, b.Appliance, b.State)
		if b.Reason != "" {
			line += ": " + b.Reason
		}
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
}

func targetOrAll(t string) string {
	if t == "" {
		return "every box"
	}
	return t
}

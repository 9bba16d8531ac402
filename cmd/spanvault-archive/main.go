// Command spanvault-archive is the central archive: it creates its CA and
// store (init), enrolls and revokes boxes, serves the sync protocol over
// mutual TLS (serve), lists and hands out what it holds, and queues
// commands for the boxes. Behaviour lives in package archive.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"syscall"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/archive/keyring"
	"github.com/spanvault/spanvault/sync/wire"
)

type command struct {
	summary string
	run     func(args []string, stdout io.Writer) error
}

var commands = map[string]command{
	"init":       {"create the CA, server certificate, configuration, store and index in -dir", cmdInit},
	"enroll":     {"issue a box's certificates and write OUT/ with sync.toml (-by NAME: an admin of every branch, once the archive has accounts; a replacement takes two: approve -replace)", cmdEnroll},
	"revoke":     {"refuse a box and its certificates from now on, for good (-reason WHY -by NAME: an admin of every branch)", cmdRevoke},
	"serve":      {"serve the sync protocol over mutual TLS", cmdServe},
	"recordings": {"list the recordings and call records held", cmdRecordings},
	"get":        {"a sealed recording exactly as the box sealed it, as an export: filed (-appliance -id -reason -by), approved by a second person, written once (-request N -o FILE -by)", cmdGet},
	"pull":       {"ask a box to upload now (-id ID or -all; -by NAME: an admin)", cmdBox(wire.CmdPull)},
	"erase":      {"file the erasure of a recording (-by NAME: a DPO) that a second DPO approves: then its box erases it, and the archive its copy", cmdBox(wire.CmdErase)},
	"hold":       {"put a recording on legal hold, here and on its box (-by NAME: a DPO)", cmdBox(wire.CmdHold)},
	"release":    {"file the release of a recording's legal hold (-by NAME: a DPO) that a second DPO approves", cmdBox(wire.CmdRelease)},
	"commands":   {"list commands and their life (issued, delivered, applied or refused)", cmdCommands},
	"events":     {"print the archive's audit trail (-alerts: alerts only)", cmdEvents},
	"user":       {"manage the access service's users as an admin (-by NAME): user add -name NAME -role ROLE [-branches A,B] -reason WHY and user reset (four eyes: a second admin approves and receives a setup link), user list, user disable|enable|unlock -name NAME; the first two admins: user add -role admin without -by", cmdUser},
	"verify":     {"re-hash every stored recording, check every box's anchored audit chain and the archive's holdings against the boxes' coverage ledgers", cmdVerify},
	"reseal":     {"re-wrap classical (X25519) recordings' file keys to the identity's hybrid post-quantum recipient", cmdReseal},
}

func main() {
	os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
}

// Main runs a command line and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "spanvault-archive: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	if err := cmd.run(args[1:], stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "spanvault-archive %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: spanvault-archive command -dir DIR [flags]\n\ncommands:")
	var names []string
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-11s %s\n", n, commands[n].summary)
	}
}

func flags(name string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("spanvault-archive "+name, flag.ContinueOnError)
	dir := fs.String("dir", "", "archive directory")
	return fs, dir
}

func parse(fs *flag.FlagSet, args []string, required ...string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, n := range required {
		if fs.Lookup(n).Value.String() == "" {
			return fmt.Errorf("-%s is required", n)
		}
	}
	return nil
}

func cmdInit(args []string, stdout io.Writer) error {
	fs, dir := flags("init")
	name := fs.String("name", "archive", "archive name")
	listen := fs.String("listen", "127.0.0.1:8443", "ingest address that boxes connect to")
	hosts := fs.String("hosts", "", "extra names and addresses for the server certificate, comma-separated")
	storeURL := fs.String("store", "", "where recordings live: a directory (default DIR/store) or s3://ACCESS_KEY:SECRET_KEY@HOST:PORT/BUCKET[?tls=false] (Object Lock; created if missing)")
	indexURL := fs.String("index", "", "the index: a SQLite file (default DIR/index.db) or a postgres:// URL (libpq form; a unix socket allowed) shared by several front-ends")
	identity := fs.String("identity", "", "also write a new age identity for the access service to this file (0600, must not exist; keep it off the ingest host) and print its recipient for the boxes")
	classical := fs.Bool("x25519", false, "with -identity: a classical X25519 identity instead of a hybrid post-quantum one")
	if err := parse(fs, args, "dir"); err != nil {
		return err
	}
	var hs []string
	if *hosts != "" {
		hs = strings.Split(*hosts, ",")
	}
	if err := archive.Init(*dir, archive.InitOptions{Name: *name, Listen: *listen, Hosts: hs, Store: *storeURL, Index: *indexURL}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "archive %q created in %s; boxes connect to %s\n", *name, *dir, *listen)
	if *identity != "" {
		pub, err := writeIdentity(*identity, *classical)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "identity for the access service in %s; the boxes' recipient: %s\n", *identity, pub)
	}
	return nil
}

func open(dir string) (*archive.Archive, error) { return archive.Open(dir) }

// parseOpen parses the flags and opens the archive in -dir.
func parseOpen(fs *flag.FlagSet, dir *string, args []string, required ...string) (*archive.Archive, error) {
	if err := parse(fs, args, required...); err != nil {
		return nil, err
	}
	return open(*dir)
}

func cmdEnroll(args []string, stdout io.Writer) error {
	fs, dir := flags("enroll")
	name := fs.String("name", "", "the box's name")
	out := fs.String("o", "", "output directory for the box's files")
	hosts := fs.String("api-hosts", "", "names and addresses of the box's local API, comma-separated")
	replace := fs.Bool("replace", false, "re-enrol an enrolled name for a replacement box: refused here, it takes two admins (approve -replace)")
	reason := fs.String("reason", "", "why the box is replaced (required with -replace; audited)")
	op := addOperatorFlags(fs, "who enrols it (an admin of every branch; without accounts in the archive yet, nobody)")
	if err := parse(fs, args, "dir", "name", "o"); err != nil {
		return err
	}
	if *replace && strings.TrimSpace(*reason) == "" {
		return errors.New("-replace needs -reason")
	}
	a, err := open(*dir)
	if err != nil {
		return err
	}
	defer a.Close()
	ctx := context.Background()
	if *replace {
		// The workspace gives a replacement to two admins only.
		return errors.New("a replacement revokes the old box for good and resets its audit key: it takes two admins. The new box asks with its enrollment code (zero-touch); approve it with spanvault-archive approve -replace -reason WHY -code CODE -name NAME -by ADMIN, then again -by ANOTHER (or the workspace's enrollment page)")
	}
	if a.Config.Enroll.FourEyes {
		// Under [enroll] four_eyes the workspace enrols with two admins.
		return errors.New("[enroll] four_eyes: an enrollment takes two admins. The box asks with its enrollment code (zero-touch); approve it with spanvault-archive approve -code CODE -name NAME -by ADMIN, then again -by ANOTHER (or the workspace's enrollment page)")
	}
	who, err := enrollOperator(ctx, a, op, access.ActEnroll)
	if err != nil {
		return err
	}
	var hs []string
	if *hosts != "" {
		hs = strings.Split(*hosts, ",")
	}
	r, err := a.EnrollBy(ctx, *name, *out, hs, who)
	if err != nil {
		return err
	}
	a.Event(ctx, "enroll_command", who, *name, fmt.Sprintf("certificates written to %s by the command line", *out), false)
	fmt.Fprintf(stdout, "enrolled %s: certificate until %s; append %s/sync.toml to the box's configuration\n", *name, r.NotAfter.UTC().Format("2006-01-02 15:04"), *out)
	return nil
}

// enrollBootstrap is who the trail names for an enrollment or a
// revocation at the command line of an archive without any account.
const enrollBootstrap = "bootstrap (command line, no accounts yet)"

// enrollOperator authenticates -by as an admin of every branch, or,
// without -by, admits an archive that has no access accounts at all yet
// (its first boxes, before anyone could be named).
func enrollOperator(ctx context.Context, a *archive.Archive, op operatorFlags, act access.Action) (string, error) {
	if *op.by == "" {
		us, err := access.ListUsers(ctx, a.Index.DB())
		if err != nil {
			return "", err
		}
		if len(us) == 0 {
			return enrollBootstrap, nil
		}
	}
	u, err := op.authenticate(ctx, a, act)
	if err != nil {
		return "", err
	}
	return u.Name, nil
}

func cmdRevoke(args []string, stdout io.Writer) error {
	fs, dir := flags("revoke")
	name := fs.String("name", "", "the box's name")
	reason := fs.String("reason", "", "why (audited)")
	op := addOperatorFlags(fs, "who revokes it (an admin of every branch; without accounts in the archive yet, nobody)")
	a, err := parseOpen(fs, dir, args, "dir", "name", "reason")
	if err != nil {
		return err
	}
	defer a.Close()
	ctx := context.Background()
	who, err := enrollOperator(ctx, a, op, access.ActEnroll)
	if err != nil {
		return err
	}
	if err := a.RevokeBy(ctx, *name, *reason, who); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "revoked %s\n", *name)
	return nil
}

func cmdServe(args []string, stdout io.Writer) error {
	fs, dir := flags("serve")
	listen := fs.String("listen", "", "ingest address (default: the configured one)")
	web := fs.String("web", "", "also serve the access service (web page and JSON API, HTTPS) on this address")
	identity := fs.String("identity", "", "the archive's age identity file (0600) for the access service; default: $"+keyring.EnvVar)
	a, err := parseOpen(fs, dir, args, "dir")
	if err != nil {
		return err
	}
	defer a.Close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	webDone := make(chan error, 1)
	if *web != "" {
		var keys *keyring.Keyring
		if *identity != "" || os.Getenv(keyring.EnvVar) != "" {
			if keys, err = keyring.Load(*identity); err != nil {
				return err
			}
		} else {
			fmt.Fprintln(stdout, "access service without the archive's identity: it lists only what is in clear")
		}
		svc := access.New(a, keys)
		// An identity the index was not keyed with: refuse to start.
		if err := svc.CheckKeys(ctx); err != nil {
			return err
		}
		wl, err := net.Listen("tcp", *web)
		if err != nil {
			return fmt.Errorf("web: %w", err)
		}
		fmt.Fprintf(stdout, "serving the access service on https://%s\n", wl.Addr())
		if a.Config.Access.PublicURL == "" {
			fmt.Fprintln(stdout, "streaming links and new accounts (setup links) disabled: set access.public_url in archive.toml (the address the CRM reaches this service at)")
		}
		go func() { webDone <- svc.Serve(ctx, wl) }()
	} else {
		close(webDone)
	}
	addr := *listen
	if addr == "" {
		addr = a.Config.Listen
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	fmt.Fprintf(stdout, "serving ingest on %s (mutual TLS 1.3)\n", ln.Addr())
	err = a.Serve(ctx, ln)
	stop()
	if werr := <-webDone; err == nil {
		err = werr
	}
	return err
}

// listed is one line of `recordings -json`.
type listed struct {
	Appliance   string `json:"appliance"`
	ID          string `json:"id"`
	Kind        string `json:"kind"`
	SHA256      string `json:"sha256,omitempty"`
	Size        int64  `json:"size"`
	Start       string `json:"start"`
	Class       string `json:"class"`
	RetainUntil string `json:"retain_until,omitempty"` // as the store reports it (the index's date where the store has none)
	LockMode    string `json:"lock_mode"`              // COMPLIANCE, GOVERNANCE or empty, as the store reports it
	Erased      bool   `json:"erased,omitempty"`       // erased (GDPR Art. 17): in the index, and crypto-shredded or removed at the store
	Hold        bool   `json:"hold"`
	Recorded    bool   `json:"recorded"`
	DeletedAt   string `json:"deleted_at,omitempty"`
	// RemovedFromBoxAt: when the box said it no longer holds its copy
	// (the archive's stays, under the archive's class and holds).
	RemovedFromBoxAt string `json:"removed_from_box_at,omitempty"`
	// Tombstone is a tombstone's kind: removed, erased or erasure_refused.
	Tombstone string `json:"tombstone,omitempty"`
	// Why says why the recording was erased, or why its erasure was refused.
	Why string `json:"why,omitempty"`
}

func cmdRecordings(args []string, stdout io.Writer) error {
	fs, dir := flags("recordings")
	asJSON := fs.Bool("json", false, "one JSON object per line")
	app := fs.String("appliance", "", "only this box")
	a, err := parseOpen(fs, dir, args, "dir")
	if err != nil {
		return err
	}
	defer a.Close()
	rs, err := a.Index.Records(context.Background(), index.Query{Appliance: *app})
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	for _, r := range rs {
		l := listed{Appliance: r.Appliance, ID: r.ID, Kind: r.Kind, SHA256: r.SHA256, Size: r.Size, Start: r.Start.UTC().Format("2006-01-02T15:04:05Z"),
			Class: r.Class, Hold: r.Hold, Recorded: r.Recorded}
		if !r.RetainUntil.IsZero() {
			l.RetainUntil = r.RetainUntil.UTC().Format("2006-01-02T15:04:05Z")
		}
		if r.SHA256 != "" && r.Kind == wire.KindRecording {
			in, err := a.Store.Stat(context.Background(), r.SHA256)
			if err != nil {
				return err
			}
			if !in.RetainUntil.IsZero() {
				l.RetainUntil = in.RetainUntil.UTC().Format("2006-01-02T15:04:05Z")
			}
			l.LockMode, l.Erased = in.LockMode, in.Erased
		}
		if !r.DeletedAt.IsZero() {
			l.DeletedAt = r.DeletedAt.UTC().Format("2006-01-02T15:04:05Z")
		}
		fateOf(&l, r)
		if *asJSON {
			enc.Encode(l)
			continue
		}
		fmt.Fprintf(stdout, "%-12s %-26s %-9s %s %-10s %9d hold=%v %s\n", l.Appliance, l.ID, l.Kind, l.Start, l.Class, l.Size, l.Hold, l.DeletedAt)
	}
	return nil
}

func cmdCommands(args []string, stdout io.Writer) error {
	fs, dir := flags("commands")
	app := fs.String("appliance", "", "only this box")
	a, err := parseOpen(fs, dir, args, "dir")
	if err != nil {
		return err
	}
	defer a.Close()
	cs, err := a.Index.Commands(context.Background(), *app, false)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	for _, c := range cs {
		enc.Encode(c)
	}
	return nil
}

func cmdEvents(args []string, stdout io.Writer) error {
	fs, dir := flags("events")
	alerts := fs.Bool("alerts", false, "alerts only")
	a, err := parseOpen(fs, dir, args, "dir")
	if err != nil {
		return err
	}
	defer a.Close()
	es, err := a.Index.Events(context.Background(), "", *alerts)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	for _, e := range es {
		enc.Encode(e)
	}
	return nil
}

func cmdVerify(args []string, stdout io.Writer) error {
	fs, dir := flags("verify")
	a, err := parseOpen(fs, dir, args, "dir")
	if err != nil {
		return err
	}
	defer a.Close()
	rep, err := a.Verify(context.Background())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d recordings re-hashed, %d boxes' audit chains checked, archive trail %d entries\n", rep.Objects, rep.Appliances, rep.Events)
	fmt.Fprintf(stdout, "%d classical-only (X25519) recordings\n", rep.Classical)
	fmt.Fprintf(stdout, "%d coverage ledgers checked against the archive's holdings\n", rep.Ledgers)
	for _, p := range rep.Problems {
		fmt.Fprintln(stdout, "PROBLEM:", p)
	}
	if len(rep.Problems) > 0 {
		return fmt.Errorf("%d problems", len(rep.Problems))
	}
	return nil
}

func cmdUser(args []string, stdout io.Writer) error {
	if len(args) == 0 || !slices.Contains([]string{"add", "list", "disable", "enable", "unlock", "reset"}, args[0]) {
		return errors.New("usage: user add -dir DIR -name NAME -role ROLE [-branches A,B] -reason WHY -by ADMIN | user list -dir DIR | user disable -dir DIR -name NAME -reason WHY -by ADMIN | user enable|unlock -dir DIR -name NAME -by ADMIN | user reset -dir DIR -name NAME -reason WHY -by ADMIN\n(the first two admins of an archive: user add -dir DIR -name NAME -role admin, without -by)")
	}
	fs, dir := flags("user " + args[0])
	name := fs.String("name", "", "user name")
	role := fs.String("role", "", "admin, auditor, supervisor, compliance, dpo or crm")
	branches := fs.String("branches", "", "comma-separated appliances the user is scoped to (default: all, for admin, auditor and dpo)")
	reason := fs.String("reason", "", "why (audited; required for add, reset and disable)")
	op := addOperatorFlags(fs, "the admin who asks (add and reset: a second admin approves with request approve)")
	a, err := parseOpen(fs, dir, args[1:], "dir")
	if err != nil {
		return err
	}
	defer a.Close()
	ctx := context.Background()
	if args[0] == "list" {
		us, err := access.ListUsers(ctx, a.Index.DB())
		if err != nil {
			return err
		}
		for _, u := range us {
			scope := "all"
			if !u.AllBranches() {
				scope = strings.Join(u.Branches, ",")
			}
			fmt.Fprintf(stdout, "%s\t%s\t%s\t%s\t%s\n", u.Name, u.Role, scope, u.Suspended, u.Disabled)
		}
		return nil
	}
	if *name == "" {
		return errors.New("-name is required")
	}
	if args[0] == "add" && *op.by == "" {
		// The bootstrap: the first two admins of an archive.
		if *role != string(access.Admin) || *branches != "" {
			return errors.New("-by: name yourself (an admin of the access service; your credentials are checked); without -by only the first two admins of an archive are added (-role admin)")
		}
		link, err := access.New(a, nil).BootstrapAdmin(ctx, *name)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "admin %s added (bootstrap, alerted in the trail): they set their own password and second factor through this setup link (single use, valid %s; hand it to them only):\n%s\n", *name, access.SetupLinkTTL, link)
		return nil
	}
	u, svc, err := op.operator(ctx, a, access.ActUsers)
	if err != nil {
		return err
	}
	var req *access.Request
	if args[0] == "add" {
		r, err := access.ParseRole(*role)
		if err != nil {
			return err
		}
		var bs []string
		if *branches != "" {
			for _, b := range strings.Split(*branches, ",") {
				bs = append(bs, strings.TrimSpace(b))
			}
		}
		req, err = svc.RequestAddUser(ctx, u, *name, r, bs, *reason)
		if err != nil {
			return err
		}
	} else if req, err = svc.Account(ctx, u, *name, args[0], *reason); err != nil {
		return err
	}
	if req == nil {
		fmt.Fprintf(stdout, "user %s: %s by %s\n", *name, args[0], u.Name)
		return nil
	}
	fmt.Fprintf(stdout, "request %d filed: %s of user %s waits for a second admin (not %s) to approve it: spanvault-archive request approve -id %d -by NAME, or the workspace; the approver receives a setup link for the user, who sets their own password and second factor\n",
		req.ID, args[0], *name, u.Name, req.ID)
	return nil
}

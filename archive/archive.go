package archive

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/spanvault/spanvault/archive/anchor"
	"github.com/spanvault/spanvault/archive/ca"
	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/archive/store"
	"github.com/spanvault/spanvault/sync/wire"
)

// Files in the archive's directory besides the configuration.
const (
	caDir       = "ca"
	serverCert  = "server.crt"
	serverKey   = "server.key"
	anchorSKey  = "anchor.skey"
	anchorVKey  = "anchor.vkey"
	archiveMode = 0o700
)

// Archive is an open archive directory.
type Archive struct {
	Dir    string
	Config Config
	CA     *ca.CA
	Index  *index.Index
	Store  store.Store
	Log    *anchor.Log
	Logger *slog.Logger
	// Now is the clock (tests move it).
	Now func() time.Time
	// OnAlert, when set, is given every alert after it is in the audit
	// trail (the access service forwards them to the DPO). It must not block.
	OnAlert func(index.Event)

	inflight sync.WaitGroup // ingest requests being handled
	uploads  uploadTracker  // uploads in progress per box (the partial quota)

	enrollLimit enrollLimiter   // enrollment requests (enrollcode.go)
	downloads   downloadLimiter // update downloads in progress (update_limits.go)
}

// InitOptions configure a new archive.
type InitOptions struct {
	Name   string
	Listen string   // default 127.0.0.1:8443
	Hosts  []string // extra names and addresses for the server certificate
	// Store is a directory (relative to the archive's, default "store")
	// or s3://ACCESS_KEY:SECRET_KEY@HOST:PORT/BUCKET[?tls=false]: the
	// bucket is created with Object Lock if it does not exist.
	Store string
	// Index is a SQLite file (relative to the archive's, default
	// "index.db") or a postgres:// URL, which several front-ends share.
	Index string
}

// Init creates a new archive in dir: CA, server certificate, anchor log
// keys, configuration, empty store and index (directories 0700, keys 0600).
func Init(dir string, opt InitOptions) error {
	if opt.Name == "" {
		opt.Name = "archive"
	}
	if opt.Listen == "" {
		opt.Listen = "127.0.0.1:8443"
	}
	if !wire.ValidName(opt.Name) {
		return fmt.Errorf("archive: name %q: use lower-case letters, digits, dots and dashes", opt.Name)
	}
	if _, err := os.Stat(filepath.Join(dir, configFile)); err == nil {
		return fmt.Errorf("archive: %s already holds an archive", dir)
	}
	if err := os.MkdirAll(filepath.Join(dir, caDir), archiveMode); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	if err := os.Chmod(dir, archiveMode); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	c, err := ca.Create(filepath.Join(dir, caDir), opt.Name)
	if err != nil {
		return err
	}
	host, _, _ := net.SplitHostPort(opt.Listen)
	hosts := append([]string{"localhost", "127.0.0.1", "::1", host}, opt.Hosts...)
	if h, err := os.Hostname(); err == nil {
		hosts = append(hosts, h)
	}
	key, err := ca.NewKey()
	if err != nil {
		return err
	}
	der, err := c.Issue(ca.Server, opt.Name, hosts, key.Public(), 5*365*24*time.Hour)
	if err != nil {
		return err
	}
	if err := ca.WriteKey(filepath.Join(dir, serverKey), key); err != nil {
		return err
	}
	if err := ca.WriteCert(filepath.Join(dir, serverCert), der); err != nil {
		return err
	}
	sk, vk, err := anchor.NewKey(opt.Name)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, anchorSKey), []byte(sk+"\n"), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, anchorVKey), []byte(vk+"\n"), 0o644); err != nil {
		return err
	}
	cfg := defaultConfig(opt.Name, opt.Listen)
	if opt.Store != "" {
		cfg.Store = opt.Store
	}
	if opt.Index != "" {
		cfg.Index = opt.Index
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, configFile), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(f, "# spanvault archive configuration (see README.md).\n"); err != nil {
		f.Close()
		return err
	}
	if err := toml.NewEncoder(f).Encode(cfg); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	a, err := Open(dir)
	if err != nil {
		return err
	}
	// The policy, update and erasure keys now: a second front-end
	// copied from this directory must sign with the same keys (made at
	// first use, each copy made its own).
	if _, err := a.policyKey(); err != nil {
		a.Close()
		return err
	}
	if err := a.makeUpdateKey(); err != nil {
		a.Close()
		return err
	}
	if _, err := a.erasureKey(); err != nil {
		a.Close()
		return err
	}
	return a.Close()
}

// Open opens the archive in dir.
func Open(dir string) (*Archive, error) {
	cfg, err := loadConfig(dir)
	if err != nil {
		return nil, err
	}
	c, err := ca.Load(filepath.Join(dir, caDir))
	if err != nil {
		return nil, err
	}
	ix, err := index.Open(cfg.indexPath(dir))
	if err != nil {
		return nil, err
	}
	st, err := openStore(dir, cfg)
	if err != nil {
		ix.Close()
		return nil, err
	}
	lg, err := anchor.Open(ix.DB(), filepath.Join(dir, anchorSKey), filepath.Join(dir, anchorVKey))
	if err != nil {
		ix.Close()
		return nil, err
	}
	a := &Archive{Dir: dir, Config: cfg, CA: c, Index: ix, Store: st, Log: lg, Logger: slog.Default(), Now: time.Now}
	c.Now = func() time.Time { return a.Now() }
	a.watchStore()
	if err := a.replayErasures(context.Background()); err != nil {
		ix.Close()
		return nil, err
	}
	return a, nil
}

// openStore opens the configured backend: a directory, or an S3 bucket
// with Object Lock whose uploads in progress are staged in DIR/staging.
func openStore(dir string, cfg Config) (store.Store, error) {
	if strings.HasPrefix(cfg.Store, "s3://") {
		sc, err := store.ParseS3URL(cfg.Store)
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		return store.OpenS3(ctx, sc, filepath.Join(dir, "staging"))
	}
	return store.OpenDir(filepath.Join(dir, cfg.Store))
}

// Close closes the index.
func (a *Archive) Close() error { return a.Index.Close() }

// Event records an entry in the archive's audit trail (and logs it).
func (a *Archive) Event(ctx context.Context, kind, actor, appliance, detail string, alert bool) {
	ev, err := a.Index.AddEvent(context.WithoutCancel(ctx), index.Event{Time: a.Now(), Kind: kind, Actor: actor, Appliance: appliance, Detail: detail, Alert: alert})
	if err != nil {
		a.Logger.Error("archive audit trail", "err", err)
	}
	if alert && a.OnAlert != nil {
		a.OnAlert(ev)
	}
	lvl := slog.LevelInfo
	if alert {
		lvl = slog.LevelWarn
	}
	a.Logger.Log(ctx, lvl, kind, "appliance", appliance, "actor", actor, "detail", detail)
}

// EnrollResult says what enroll wrote.
type EnrollResult struct {
	Dir      string
	NotAfter time.Time
}

// Enroll issues a box's sync identity (client certificate) and its local
// API's server certificate, and writes into out: sync.crt, sync.key,
// api.crt, api.key, ca.crt, anchor.vkey and sync.toml (a [sync] section to
// append to the box's configuration). Keys are 0600, out is 0700. The
// index pins the sync certificate. An enrolled name is refused: a new box
// for it is a Replace.
// The trail names NoPerson.
func (a *Archive) Enroll(ctx context.Context, name, out string, apiHosts []string) (*EnrollResult, error) {
	return a.enroll(ctx, name, out, apiHosts, "", NoPerson)
}

// EnrollBy is Enroll, the trail naming by (the person the command line
// authenticated).
func (a *Archive) EnrollBy(ctx context.Context, name, out string, apiHosts []string, by string) (*EnrollResult, error) {
	return a.enroll(ctx, name, out, apiHosts, "", by)
}

// NoPerson is who the trail names for an enrollment, replacement or
// revocation through Enroll, Replace or Revoke (a program, not a person
// the command line authenticated): a name no user can hold.
const NoPerson = "(no person: the archive's program interface)"

// enroll is Enroll, or Replace when replace (the reason) is set.
func (a *Archive) enroll(ctx context.Context, name, out string, apiHosts []string, replace, by string) (*EnrollResult, error) {
	if !wire.ValidName(name) {
		return nil, fmt.Errorf("archive: appliance name %q: use lower-case letters, digits, dots and dashes", name)
	}
	if err := a.enrollable(ctx, name, replace != ""); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(out, 0o700); err != nil {
		return nil, err
	}
	lifetime := time.Duration(a.Config.CertLifetime)
	key, err := ca.NewKey()
	if err != nil {
		return nil, err
	}
	der, err := a.CA.Issue(ca.Client, name, nil, key.Public(), lifetime)
	if err != nil {
		return nil, err
	}
	apiKey, err := ca.NewKey()
	if err != nil {
		return nil, err
	}
	apiDER, err := a.CA.Issue(ca.Server, name, apiHosts, apiKey.Public(), lifetime)
	if err != nil {
		return nil, err
	}
	for _, w := range []struct {
		path string
		do   func(string) error
	}{
		{"sync.key", func(p string) error { return ca.WriteKey(p, key) }},
		{"sync.crt", func(p string) error { return ca.WriteCert(p, der) }},
		{"api.key", func(p string) error { return ca.WriteKey(p, apiKey) }},
		{"api.crt", func(p string) error { return ca.WriteCert(p, apiDER) }},
		{"ca.crt", func(p string) error { return ca.WriteCert(p, a.CA.Cert.Raw) }},
		{"anchor.vkey", func(p string) error { return os.WriteFile(p, []byte(a.Log.VerifierKey()+"\n"), 0o644) }},
		{"policy.pub", func(p string) error { return a.writePolicyPub(p) }},
		{"update.pub", func(p string) error { return a.writeUpdatePub(p) }},
	} {
		if err := w.do(filepath.Join(out, w.path)); err != nil {
			return nil, fmt.Errorf("archive: enroll: %w", err)
		}
	}
	abs, _ := filepath.Abs(out)
	addrs := a.Config.Advertise
	if len(addrs) == 0 {
		addrs = []string{a.Config.Listen}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by spanvault-archive enroll for %q; append to the box's configuration.\n", name)
	fmt.Fprintf(&b, "[sync]\nname = %q\narchives = [", name)
	for i, ad := range addrs {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", ad)
	}
	fmt.Fprintf(&b, "]\ncert = %q\nkey = %q\nca = %q\nanchor_key = %q\napi_cert = %q\napi_key = %q\npolicy_key = %q\n",
		filepath.Join(abs, "sync.crt"), filepath.Join(abs, "sync.key"), filepath.Join(abs, "ca.crt"),
		filepath.Join(abs, "anchor.vkey"), filepath.Join(abs, "api.crt"), filepath.Join(abs, "api.key"), filepath.Join(abs, "policy.pub"))
	fmt.Fprintf(&b, "update_key = %q\n", filepath.Join(abs, "update.pub"))
	fmt.Fprintf(&b, "window = \"01:00-05:00\"\nrate = \"1MB\"\ncheck_in_every = \"5m\"\n")
	if err := os.WriteFile(filepath.Join(out, "sync.toml"), []byte(b.String()), 0o600); err != nil {
		return nil, err
	}
	if err := a.pinEnrolled(ctx, name, der, replace, by); err != nil {
		return nil, err
	}
	cert, _ := x509.ParseCertificate(der)
	return &EnrollResult{Dir: out, NotAfter: cert.NotAfter}, nil
}

// Revoke refuses an appliance from now on (every request checks): its
// name, and every certificate serial pinned to it, for good (a
// replacement box gets new ones: Replace).
func (a *Archive) Revoke(ctx context.Context, name, reason string) error {
	return a.RevokeBy(ctx, name, reason, NoPerson)
}

// RevokeBy is Revoke, the trail naming by.
func (a *Archive) RevokeBy(ctx context.Context, name, reason, by string) error {
	serials, err := a.Index.RevokeCerts(ctx, name, reason, a.Now())
	if err != nil {
		return err
	}
	a.Event(ctx, "revoke", by, name, fmt.Sprintf("%s (certificate serials revoked for good: %s)", reason, strings.Join(serials, ", ")), false)
	return a.leaveRollouts(ctx, name)
}

// Command queues a command for a box (delivered at its next check-in).
func (a *Archive) Command(ctx context.Context, appliance, kind, recording string, all bool, reason, by string) (int64, error) {
	if _, err := a.Index.Appliance(ctx, appliance); err != nil {
		return 0, err
	}
	c := wire.Command{Kind: kind, Recording: recording, All: all}
	if err := c.Validate(); err != nil {
		return 0, fmt.Errorf("archive: %w", err)
	}
	if kind == wire.CmdHold || kind == wire.CmdRelease {
		// The archive's own copy follows at once.
		if err := a.setHold(ctx, appliance, recording, kind == wire.CmdHold); err != nil {
			return 0, err
		}
	}
	if kind == wire.CmdErase {
		rs, err := a.Index.Records(ctx, index.Query{Appliance: appliance, ID: recording, Kind: wire.KindRecording})
		if err != nil {
			return 0, err
		}
		for _, r := range rs {
			if r.Hold {
				return 0, fmt.Errorf("archive: %s/%s is on legal hold at the archive: erasure refused", appliance, recording)
			}
			if a.Config.lockMode(r.Class) == store.Compliance && a.Now().Before(r.RetainUntil) {
				return 0, fmt.Errorf("archive: %s/%s (class %s) is under a legal retention duty until %s: erasure refused (GDPR Art. 17(3)(b))", appliance, recording, r.Class, r.RetainUntil.UTC().Format("2006-01-02"))
			}
		}
	}
	id, err := a.Index.AddCommand(ctx, index.Command{Appliance: appliance, Kind: kind, Recording: recording, All: all, Reason: reason, By: by, IssuedAt: a.Now()})
	if err != nil {
		return 0, err
	}
	a.Event(ctx, "command_issued", by, appliance, fmt.Sprintf("%d %s %s all=%v: %s", id, kind, recording, all, reason), false)
	return id, nil
}

func (a *Archive) setHold(ctx context.Context, appliance, id string, hold bool) error {
	if err := a.Index.SetHold(ctx, appliance, id, hold); err != nil {
		return err
	}
	rs, err := a.Index.Records(ctx, index.Query{Appliance: appliance, ID: id, Kind: wire.KindRecording})
	if err != nil {
		return err
	}
	for _, r := range rs {
		if err := a.Store.SetRetention(ctx, r.SHA256, store.Retention{Until: r.RetainUntil, Hold: hold, Mode: a.Config.lockMode(r.Class)}); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return nil
}

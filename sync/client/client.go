// Package client is the box's side of the sync protocol (sync/doc.go): it
// checks in, applies the archive's commands through the vault, anchors the
// audit chain, uploads sealed recordings resumably under a bandwidth cap,
// sends call records and tombstones, and renews its certificate.
//
// Invariants: a recording is marked synced (vault.Acknowledge, one bbolt
// transaction) only after the archive acknowledged its record, which the
// archive sends only once object and index row are durable. Every step
// can be repeated after a crash: uploads resume at the archive's offset,
// records are keyed by ID. The client connects out only.
package client

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	gosync "sync"
	"time"

	"golang.org/x/mod/sumdb/tlog"
	"golang.org/x/time/rate"

	"github.com/spanvault/spanvault/internal/keyfile"
	"github.com/spanvault/spanvault/sync/wire"
	"github.com/spanvault/spanvault/vault"
)

// Config is the box's [sync] section.
type Config struct {
	Name      string
	Archives  []string // host:port, tried in order
	Cert, Key string   // the box's client certificate and key (PEM files)
	CA        string   // the archive's CA certificate
	AnchorKey string   // the archive's checkpoint verifier key file
	// Rate caps upload bytes per second (0: no cap).
	Rate int64
	// Version is reported at check-in.
	Version string
	// Now is the clock (tests move it).
	Now func() time.Time
	// BeforeAck, when set, runs between the archive's acknowledgement of a
	// batch and the vault's: the crash tests kill the box there.
	BeforeAck func() error
	// PolicyKey is the archive's policy signing key (policy.pub); without
	// it every central policy is refused. OnPolicy validates and applies
	// a verified policy, returning the settings that wait for a restart
	// (policy.go).
	PolicyKey string
	OnPolicy  func(*wire.PolicyDoc) (restart []string, err error)
	// UpdateKey is the archive's update signing key (update.pub); without
	// it every firmware update is refused. Firmware is the build running;
	// OnUpdate takes a verified offer (update.go).
	UpdateKey string
	Firmware  Firmware
	OnUpdate  func(Update) error
	// UpdateStall ends an update download that received no byte this
	// long (default DefaultUpdateStall; update_stall.go).
	UpdateStall time.Duration
}

// Client syncs one vault.
type Client struct {
	cfg     Config
	v       Vault
	http    *http.Client
	limiter *rate.Limiter
	vkey    string

	mu       gosync.Mutex
	cert     *tls.Certificate
	leaf     *x509.Certificate
	current  int // index of the archive that answered last
	state    State
	pullAll  bool
	pullOne  map[string]bool
	resume   map[string]bool // objects whose upload began and did not complete: HEAD first (upload.go)
	results  []wire.CommandResult
	treeSize int64

	policyKey   ed25519.PublicKey // policy.go
	policyDirty bool              // the policy state changed since the last check-in
	updateKey   ed25519.PublicKey // update.go
	updateDirty bool              // the update state changed since the last check-in

	// beforeAck, when set (tests), runs between the archive's ack and the
	// vault's acknowledgement: a crash there must lose nothing.
	beforeAck func() error
}

// State is what the status page shows.
type State struct {
	LastSuccess   time.Time `json:"last_success,omitzero"`
	LastAttempt   time.Time `json:"last_attempt,omitzero"`
	LastError     string    `json:"last_error,omitempty"`
	Backlog       int       `json:"backlog"`
	BacklogBytes  int64     `json:"backlog_bytes"`
	CertNotAfter  time.Time `json:"cert_not_after,omitzero"`
	Archive       string    `json:"archive,omitempty"`
	ClockSkew     float64   `json:"clock_skew_s,omitempty"`
	AnchoredSeq   uint64    `json:"anchored_seq"`
	TreeSize      int64     `json:"tree_size"`
	Uploaded      int       `json:"uploaded"`
	UploadedBytes int64     `json:"uploaded_bytes"`
	ResumedBytes  int64     `json:"resumed_bytes"`
	// RefusedErasures counts this box's erasures the archive refused to
	// apply to its own copy (each audited with the archive's reason).
	RefusedErasures int `json:"refused_erasures,omitempty"`
}

// Errors.
var (
	ErrRefused = errors.New("sync: archive refused")
	ErrAnchor  = errors.New("sync: archive's anchor log is inconsistent with what this box verified before")
)

// New makes a client. It loads the certificate, key and CA.
func New(cfg Config, v Vault) (*Client, error) {
	if cfg.Name == "" || len(cfg.Archives) == 0 {
		return nil, errors.New("sync: name and archives are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Client{cfg: cfg, v: v, beforeAck: cfg.BeforeAck}
	if err := c.loadCert(); err != nil {
		return nil, err
	}
	if err := c.loadPolicyKey(); err != nil {
		return nil, err
	}
	if err := c.loadUpdateKey(); err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(cfg.CA)
	if err != nil {
		return nil, fmt.Errorf("sync: ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("sync: ca: %s holds no certificate", cfg.CA)
	}
	if cfg.AnchorKey != "" {
		b, err := os.ReadFile(cfg.AnchorKey)
		if err != nil {
			return nil, fmt.Errorf("sync: anchor_key: %w", err)
		}
		c.vkey = strings.TrimSpace(string(b))
	}
	tc := &tls.Config{
		MinVersion: tls.VersionTLS13,
		RootCAs:    pool,
		// The hybrid post-quantum key exchange only (wire.KeyExchanges).
		CurvePreferences: wire.KeyExchanges(),
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			c.mu.Lock()
			defer c.mu.Unlock()
			return c.cert, nil
		},
	}
	tr := &http.Transport{
		TLSClientConfig:     tc,
		ForceAttemptHTTP2:   false, // HTTP/1.1: see archive.TLSConfig
		TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{},
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConnsPerHost: 4,
	}
	// An upload's first PATCH waits this long for the archive's 100
	// Continue before it sends the body anyway (upload.go).
	tr.ExpectContinueTimeout = 2 * time.Second
	c.http = &http.Client{Transport: tr}
	if cfg.Rate > 0 {
		burst := int(min(cfg.Rate, 64<<10))
		c.limiter = rate.NewLimiter(rate.Limit(cfg.Rate), burst)
	} else {
		c.limiter = rate.NewLimiter(rate.Inf, 64<<10) // no cap; a policy may set one (SetRate)
	}
	if b, err := v.SyncMeta("tree_size"); err == nil && len(b) > 0 {
		c.treeSize, _ = strconv.ParseInt(string(b), 10, 64)
	}
	return c, nil
}

// SetFailpoint installs a function run between the archive's
// acknowledgement of a batch and the vault's (crash tests).
func (c *Client) SetFailpoint(f func() error) { c.beforeAck = f }

// TLSConfigForTest exposes the client's TLS configuration.
func (c *Client) TLSConfig() *tls.Config { return c.http.Transport.(*http.Transport).TLSClientConfig }

func (c *Client) loadCert() error {
	cert, err := tls.LoadX509KeyPair(c.cfg.Cert, c.cfg.Key)
	if err != nil {
		return fmt.Errorf("sync: certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return fmt.Errorf("sync: certificate: %w", err)
	}
	c.mu.Lock()
	c.cert, c.leaf = &cert, leaf
	c.state.CertNotAfter = leaf.NotAfter
	c.mu.Unlock()
	return nil
}

// State returns the last sync state.
func (c *Client) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Pull asks for an upload of everything pending at the next pass, whatever
// the window (the archive's pull command, or the CLI's -now).
func (c *Client) Pull() {
	c.mu.Lock()
	c.pullAll = true
	c.mu.Unlock()
}

// PullRequested reports whether a pull is waiting.
func (c *Client) PullRequested() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pullAll || len(c.pullOne) > 0
}

// RemoteError is a refusal from the archive with its message.
type RemoteError struct {
	Status int
	Msg    string
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("sync: archive refused (%d): %s", e.Status, e.Msg)
}

func (e *RemoteError) Unwrap() error { return ErrRefused }

// do sends a request to the archives in order, starting with the one that
// answered last; a connection failure moves to the next.
func (c *Client) do(ctx context.Context, method, path string, hdr http.Header, body func() io.Reader) (*http.Response, error) {
	c.mu.Lock()
	start := c.current
	c.mu.Unlock()
	var errs []error
	for i := range c.cfg.Archives {
		k := (start + i) % len(c.cfg.Archives)
		addr := c.cfg.Archives[k]
		var rd io.Reader
		if body != nil {
			rd = body()
		}
		req, err := http.NewRequestWithContext(ctx, method, "https://"+addr+path, rd)
		if err != nil {
			return nil, err
		}
		for h, v := range hdr {
			req.Header[h] = v
		}
		if sz, ok := rd.(interface{ Size() int64 }); ok && sz.Size() >= 0 {
			req.ContentLength = sz.Size() // not chunked
		}
		resp, err := c.http.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			errs = append(errs, fmt.Errorf("%s: %w", addr, err))
			continue
		}
		c.mu.Lock()
		c.current = k
		c.state.Archive = addr
		c.mu.Unlock()
		if resp.StatusCode >= 400 {
			defer resp.Body.Close()
			var er wire.ErrorReply
			_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&er) // an error reply that is not JSON falls back to the header below
			if er.Error == "" {
				er.Error = resp.Header.Get(wire.HeaderError)
			}
			return resp, &RemoteError{Status: resp.StatusCode, Msg: er.Error}
		}
		return resp, nil
	}
	return nil, fmt.Errorf("sync: no archive reachable: %w", errors.Join(errs...))
}

func (c *Client) post(ctx context.Context, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	resp, err := c.do(ctx, http.MethodPost, path, http.Header{"Content-Type": {"application/json"}}, func() io.Reader { return bytes.NewReader(b) })
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := wire.Decode(resp.Body, out); err != nil {
		return fmt.Errorf("sync: %s: %w", path, err)
	}
	return nil
}

// Options of one pass.
type Options struct {
	// Upload sends recordings and records (inside the window, or a pull);
	// without it a pass is a check-in only.
	Upload bool
	// Health is reported at check-in.
	Health wire.Health
	// HealthNow, when set, is called at each check-in for the box's
	// health at that moment (Health is then ignored): the check-in that
	// ends a pass reports the disk as it is then, not as it was before.
	HealthNow func() wire.Health
}

// Pass runs one sync: check in (commands), anchor the audit chain, upload
// if asked to or if the archive pulled, check in again to report results.
func (c *Client) Pass(ctx context.Context, opt Options) error {
	c.mu.Lock()
	c.state.LastAttempt = c.cfg.Now()
	c.mu.Unlock()
	err := c.pass(ctx, opt)
	c.mu.Lock()
	if err != nil {
		c.state.LastError = err.Error()
	} else {
		c.state.LastError = ""
		c.state.LastSuccess = c.cfg.Now()
	}
	c.mu.Unlock()
	if err != nil {
		// A pass that ended early: the backlog as it is now (a pass that
		// ran to its end listed it for its closing check-in). A vault
		// that cannot be listed keeps the last count; the pass's error
		// says why.
		_, _ = c.updateBacklog()
	}
	return err
}

func (c *Client) pass(ctx context.Context, opt Options) error {
	if err := c.renewIfDue(ctx); err != nil {
		return err
	}
	health := func() wire.Health {
		if opt.HealthNow != nil {
			return opt.HealthNow()
		}
		return opt.Health
	}
	if err := c.checkIn(ctx, health(), false); err != nil {
		return err
	}
	c.mu.Lock()
	anchoredBefore := c.state.AnchoredSeq
	backlogBefore := c.state.Backlog
	c.mu.Unlock()
	if err := c.anchorAudit(ctx); err != nil {
		return err
	}
	if opt.Upload || c.PullRequested() {
		if err := c.upload(ctx); err != nil {
			return err
		}
	}
	// A ledger the archive refuses (a clock ahead of the archive's just
	// after midnight) fails the pass, after the check-in below.
	// One list of what still waits serves the ledgers (a day is sealed
	// once nothing of it waits) and the closing check-in's backlog.
	waiting, lerr := c.updateBacklog()
	var ledgerErr error
	if opt.Upload {
		ledgerErr = lerr
		if lerr == nil {
			ledgerErr = c.sendLedgers(ctx, waiting)
		}
	}
	// Report the results of this pass's commands now rather than at the
	// next check-in.
	// A second check-in also verifies the log grew consistently with the
	// head just anchored.
	// It also reports the backlog after the uploads: the archive's fleet
	// page shows what is still waiting on the box, not what was (listed
	// above).
	c.mu.Lock()
	pending := len(c.results) > 0 || c.state.AnchoredSeq != anchoredBefore || c.state.Backlog != backlogBefore || c.policyDirty || c.updateDirty
	c.mu.Unlock()
	if pending {
		if err := c.checkIn(ctx, health(), true); err != nil {
			return err
		}
	}
	return ledgerErr
}

// updateBacklog lists what waits to be sent and keeps its count and
// bytes as the backlog; it returns the list.
func (c *Client) updateBacklog() ([]*vault.Entry, error) {
	es, err := c.v.PendingSync(0)
	if err != nil {
		return nil, err
	}
	var n int64
	for _, e := range es {
		n += e.Size
	}
	c.mu.Lock()
	c.state.Backlog, c.state.BacklogBytes = len(es), n
	c.mu.Unlock()
	return es, nil
}

// checkIn reports h and the backlog, listed now unless the caller just
// did (listed), and applies the archive's commands.
func (c *Client) checkIn(ctx context.Context, h wire.Health, listed bool) error {
	// The backlog as it is now (a box's first check-in, and one after a
	// pass that uploaded, would otherwise report an older count).
	if !listed {
		_, _ = c.updateBacklog() // unlistable: the last count stays
	}
	c.mu.Lock()
	results := c.results
	c.results = nil
	tree := c.treeSize
	h.CertNotAfter = c.state.CertNotAfter
	h.LastSync = c.state.LastSuccess
	h.Backlog, h.BacklogBytes = c.state.Backlog, c.state.BacklogBytes
	h.ClockOffset = c.state.ClockSkew
	h.AfterPass = true
	c.mu.Unlock()
	if h.Version == "" {
		h.Version = c.cfg.Version
	}
	c.updateHealth(&h)
	var rep wire.CheckInReply
	head, err := c.v.AuditHead()
	if err != nil {
		return err
	}
	msg := wire.CheckIn{Appliance: c.cfg.Name, Time: c.cfg.Now().UTC(), Health: h, Results: results, TreeSize: tree}
	if head.Seq > 0 {
		msg.Head = &head
	}
	pr := c.PolicyReport()
	msg.Policy = &pr
	err = c.post(ctx, wire.PathCheckIn, msg, &rep)
	if err != nil {
		c.mu.Lock()
		c.results = append(results, c.results...) // report them next time
		c.mu.Unlock()
		return err
	}
	if err := c.verifyCheckpoint(rep.Checkpoint, tree, rep.Consistency); err != nil {
		return err
	}
	c.mu.Lock()
	c.policyDirty = false // the archive has the report
	c.updateDirty = false
	c.state.ClockSkew = rep.ClockSkew
	c.state.AnchoredSeq = rep.AnchoredSeq
	c.mu.Unlock()
	var aerr error
	if rep.ClockSkew != 0 {
		if err := c.v.Audit("clock_skew", "sync", "", fmt.Sprintf("the archive says this box's clock is off by %.0f s", rep.ClockSkew)); err != nil {
			aerr = fmt.Errorf("sync: auditing the clock skew: %w", err) // after the commands: they are applied all the same
		}
	}
	for _, cmd := range rep.Commands {
		c.apply(cmd)
	}
	if len(rep.Commands) > 0 {
		_, _ = c.updateBacklog() // an erasure leaves it
	}
	c.refusedErasures(rep.RefusedErasures)
	changed, perr := c.handlePolicy(rep.Policy)
	if changed {
		c.mu.Lock()
		c.policyDirty = true // reported at the pass's closing check-in
		c.mu.Unlock()
	}
	_, uerr := c.handleUpdate(rep.Update) // a change is reported at the pass's closing check-in (SetUpdateReport)
	return errors.Join(aerr, perr, uerr)
}

// verifyCheckpoint checks the archive's signed checkpoint and that it
// extends the one verified before; it then remembers the new size.
func (c *Client) verifyCheckpoint(cp wire.Checkpoint, old int64, proof [][]byte) error {
	if c.vkey == "" {
		return nil
	}
	tree, err := wire.VerifyCheckpoint(c.vkey, cp.Note)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrAnchor, err)
	}
	if tree.N < old {
		return fmt.Errorf("%w: log shrank from %d to %d", ErrAnchor, old, tree.N)
	}
	if old > 0 && tree.N > old {
		oldHash, err := c.v.SyncMeta("tree_hash")
		if err != nil || len(oldHash) != tlog.HashSize {
			return fmt.Errorf("%w: no stored tree hash for size %d", ErrAnchor, old)
		}
		var oh tlog.Hash
		copy(oh[:], oldHash)
		if err := tlog.CheckTree(toProof(proof), tree.N, tree.Hash, old, oh); err != nil {
			return fmt.Errorf("%w: %v", ErrAnchor, err)
		}
	}
	if tree.N != old || old == 0 {
		if err := c.v.SetSyncMeta("tree_hash", tree.Hash[:]); err != nil {
			return err
		}
		if err := c.v.SetSyncMeta("tree_size", []byte(strconv.FormatInt(tree.N, 10))); err != nil {
			return err
		}
		c.mu.Lock()
		c.treeSize = tree.N
		c.state.TreeSize = tree.N
		c.mu.Unlock()
	}
	return nil
}

func toProof(p [][]byte) []tlog.Hash {
	out := make([]tlog.Hash, len(p))
	for i, h := range p {
		copy(out[i][:], h)
	}
	return out
}

// apply carries out one command through the vault (audited there) and
// queues its result.
func (c *Client) apply(cmd wire.Command) {
	res := wire.CommandResult{ID: cmd.ID, Result: wire.ResultApplied}
	by := "archive:" + cmd.By
	var err error
	if err = cmd.Validate(); err == nil {
		switch cmd.Kind {
		case wire.CmdErase:
			err = c.v.Erase(cmd.Recording, cmd.Reason, by)
			if errors.Is(err, vault.ErrNotFound) {
				// Already erased (a repeated command) or expired here.
				err = nil
				res.Reason = "not held on this box"
			}
		case wire.CmdHold:
			var e *vault.Entry
			if e, err = c.v.Get(cmd.Recording); err == nil && e.State != vault.StateErased {
				_, err = c.v.Hold(cmd.Recording, cmd.Reason, by)
			}
		case wire.CmdRelease:
			_, err = c.v.ReleaseRecording(cmd.Recording, cmd.Reason, by)
		case wire.CmdPull:
			c.mu.Lock()
			if cmd.All {
				c.pullAll = true
			} else {
				if c.pullOne == nil {
					c.pullOne = map[string]bool{}
				}
				c.pullOne[cmd.Recording] = true
			}
			c.mu.Unlock()
			err = c.v.Audit("sync_pull", by, cmd.Recording, "pull requested by the archive")
		}
	}
	if err != nil {
		res.Result, res.Reason = wire.ResultRefused, err.Error()
	}
	c.mu.Lock()
	c.results = append(c.results, res)
	c.mu.Unlock()
}

// anchorAudit sends the audit entries the archive does not hold yet with
// the signed head, and checks the inclusion proof it gets back.
func (c *Client) anchorAudit(ctx context.Context) error {
	head, err := c.v.AuditHead()
	if err != nil {
		return err
	}
	c.mu.Lock()
	from := c.state.AnchoredSeq
	c.mu.Unlock()
	if head.Seq == 0 || head.Seq == from {
		return nil
	}
	// One message carries every entry the archive lacks up to the signed
	// head (wire.MaxMessage holds some 25,000 entries: more than a day of
	// a busy branch's calls).
	es, err := c.v.AuditEntries(from+1, int(head.Seq-from))
	if err != nil {
		return err
	}
	var rep wire.AuditReply
	if err := c.post(ctx, wire.PathAudit, wire.AuditUpload{Entries: es, Head: head, Key: c.v.PublicKey()}, &rep); err != nil {
		return err
	}
	if c.vkey != "" {
		tree, err := wire.VerifyCheckpoint(c.vkey, rep.Checkpoint.Note)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrAnchor, err)
		}
		leaf := tlog.RecordHash(wire.AnchorText(c.cfg.Name, head.Seq, head.Hash))
		if err := tlog.CheckRecord(toProof(rep.Inclusion), tree.N, tree.Hash, rep.Index, leaf); err != nil {
			return fmt.Errorf("%w: head not included: %v", ErrAnchor, err)
		}
	}
	c.mu.Lock()
	c.state.AnchoredSeq = head.Seq
	c.mu.Unlock()
	return nil
}

// renewIfDue renews the certificate at two thirds of its lifetime.
func (c *Client) renewIfDue(ctx context.Context) error {
	c.mu.Lock()
	leaf := c.leaf
	c.mu.Unlock()
	life := leaf.NotAfter.Sub(leaf.NotBefore)
	if c.cfg.Now().Before(leaf.NotBefore.Add(life * 2 / 3)) {
		return nil
	}
	return c.Renew(ctx)
}

// Renew asks the archive for a new certificate for a new key and stores
// both (key first, then certificate, each written atomically).
func (c *Client) Renew(ctx context.Context) error {
	key, err := keyfile.NewKey()
	if err != nil {
		return err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: c.cfg.Name}, DNSNames: []string{c.cfg.Name}}, key)
	if err != nil {
		return err
	}
	var rep wire.RenewReply
	if err := c.post(ctx, wire.PathRenew, wire.RenewRequest{CSR: csr}, &rep); err != nil {
		return fmt.Errorf("sync: renew: %w", err)
	}
	cert, err := x509.ParseCertificate(rep.Cert)
	if err != nil {
		return fmt.Errorf("sync: renew: %w", err)
	}
	if cert.DNSNames == nil || cert.DNSNames[0] != c.cfg.Name {
		return errors.New("sync: renew: the archive issued a certificate for another name")
	}
	// The old pair stays until the new one is complete on disk.
	if err := keyfile.WriteKey(c.cfg.Key+".new", key); err != nil {
		return err
	}
	if err := keyfile.WriteCert(c.cfg.Cert+".new", rep.Cert); err != nil {
		return err
	}
	if err := os.Rename(c.cfg.Key+".new", c.cfg.Key); err != nil {
		return err
	}
	if err := os.Rename(c.cfg.Cert+".new", c.cfg.Cert); err != nil {
		return err
	}
	if err := c.v.Audit("cert_renewed", "sync", "", "certificate renewed until "+cert.NotAfter.UTC().Format(time.RFC3339)); err != nil {
		return fmt.Errorf("sync: auditing the renewed certificate: %w", err)
	}
	if err := c.loadCert(); err != nil {
		return err
	}
	// Connections made with the old certificate stay authenticated as it:
	// start afresh.
	c.http.CloseIdleConnections()
	return nil
}

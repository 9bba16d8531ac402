package appliance

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gokrazy/gokrazy"
	"golang.org/x/sys/unix"

	"github.com/spanvault/spanvault/appliance/config"
	"github.com/spanvault/spanvault/appliance/led"
	"github.com/spanvault/spanvault/capture"
	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/decode"
	"github.com/spanvault/spanvault/capture/ring"
	"github.com/spanvault/spanvault/sync/client"
	"github.com/spanvault/spanvault/vault"
	"github.com/spanvault/spanvault/vault/audit"
)

// Syncer is what the status page asks of the sync to the central archive
// (sync.go: the sync/client.Client the configuration's [sync] section
// starts). Nil means not configured.
type Syncer interface {
	// State describes the last sync for the status page.
	State() SyncState
}

// SyncState is what the status page shows about sync.
type SyncState struct {
	Configured  bool         `json:"configured"`
	LastSuccess time.Time    `json:"last_success,omitzero"`
	Pending     int          `json:"pending"`
	Failing     bool         `json:"failing"`
	Window      string       `json:"window,omitempty"`
	Detail      client.State `json:"detail"`
}

// Options are the run-time choices that are not configuration: tests set
// them, the box uses the defaults.
type Options struct {
	// ClockSynced overrides clock detection.
	ClockSynced func() bool
	// DropCapabilities drops every capability once the sockets are open
	// (default true when running as root).
	KeepCapabilities bool
	Logger           *slog.Logger
}

// AlertRecordingFailed is raised when recording errors grow; the box shows
// as unhealthy (fast blink) for RecordFailingFor after the last one.
const (
	AlertMediaClaim      = "media_claim"
	AlertRecordingFailed = "recording_failed"
	RecordFailingFor     = 10 * time.Minute
)

// Appliance is a running box.
type Appliance struct {
	cfg  *config.Config
	opt  Options
	log  *slog.Logger
	v    *vault.Vault
	live *capture.Live
	led  *led.Driver
	sync Syncer
	// writer seals finished calls off the capture path.
	writer *vault.Async
	// conns bounds the status server's connections, apiConns the API's.
	conns, apiConns *limitListener
	// The local API's TLS listener and certificate.
	apiLn          net.Listener
	apiCert        tls.Certificate
	apiFingerprint string
	// recErrs and recErrAt: the recording errors seen at the last refresh
	// and when their count last grew.
	recErrs  uint64
	recErrAt time.Time
	claims   uint64 // media claims refused, as of the last alert
	attack   attackWatch
	start    time.Time
	iface    string

	clockOK atomic.Bool

	mu        sync.Mutex // guards what follows
	alerts    []vault.Alert
	auditOK   bool
	auditErr  string
	auditN    uint64
	auditAt   time.Time
	lastSweep time.Time
	// unansweredLog counts unanswered dialogs since the last summary line.
	unansweredLog int
	unansweredAt  time.Time
	sweep         vault.SweepResult
	today         dayCount
	rate          rateSample
	status        Status
	listener      net.Listener
	appr          approvals
	idx           indexCounts
	enroll        *client.EnrollState // zero-touch enrollment until approved
	policyBase    *policyBase         // what central policies apply over (policy.go)
	trend         trendRing           // the last day's samples (trends.go)

	upd     *updater      // firmware updates (update.go)
	rebootc chan struct{} // closed when an update is written: Run stops and reboots
}

type dayCount struct {
	day      string
	calls    int
	recorded int
	// incompleteByUs: recorded calls that miss packets which crossed the
	// wire (completeness.go).
	incompleteByUs int
}

type rateSample struct {
	at     time.Time
	frames uint64
	sip    uint64
}

// New validates what it can without side effects and returns an
// appliance ready to Run.
func New(cfg *config.Config, opt Options) (*Appliance, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	return &Appliance{cfg: cfg, opt: opt, log: opt.Logger, start: time.Now(), auditOK: true}, nil
}

// Addr returns the status page's listening address once Run has opened it.
func (a *Appliance) Addr() net.Addr {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.listener == nil {
		return nil
	}
	return a.listener.Addr()
}

// Run runs the box until ctx ends (SIGTERM), then shuts down cleanly.
func (a *Appliance) Run(ctx context.Context) error {
	recips, err := config.ReadRecipients(a.cfg.Vault.Recipients)
	if err != nil {
		return fmt.Errorf("vault.recipients: %w", err)
	}
	a.watchClock(ctx)
	a.raiseFileLimit()
	a.v, err = vault.OpenOrReplace(vault.Options{
		Dir: a.cfg.Vault.Dir, Recipients: recips, Policy: &a.cfg.Retention,
		ClockSynced: a.clockOK.Load, QuotaBytes: int64(a.cfg.Vault.Quota), PhoneRegion: a.cfg.Capture.PhoneRegion,
		AggregateFloods: len(a.cfg.Capture.Extensions) > 0 || len(a.cfg.Capture.LocalNets) > 0,
		Floods:          vault.FloodLimits{PerSource: a.cfg.Vault.UnansweredPerSource, PerExtension: a.cfg.Vault.UnansweredPerExtension, Overall: a.cfg.Vault.UnansweredPerMinute},
		HighWater:       a.cfg.Vault.HighWater, LowWater: a.cfg.Vault.LowWater, MinFreeBytes: int64(a.cfg.Vault.MinFree),
		Alert: a.alert,
	})
	if err != nil {
		return err
	}
	defer a.v.Close()
	if err := a.v.Audit(audit.VaultOpened, "appliance", "", "daemon started"); err != nil {
		// Alerted by the vault (disk_error); the box records on.
		a.log.Error("audit: daemon_started not written", "err", err)
	}
	a.newUpdater()
	if err := a.prepareEnroll(ctx); err != nil {
		return err
	}
	if a.cfg.Sync.Configured() {
		sc, err := a.newSyncClient()
		if err != nil {
			return fmt.Errorf("sync: %w", err)
		}
		a.mu.Lock()
		a.sync = &syncer{c: sc, started: time.Now(), window: a.cfg.Sync.Window}
		a.mu.Unlock()
		go a.runSync(ctx, sc)
	}

	iface := a.cfg.Capture.Interface
	if iface == "" {
		if iface, err = MirrorInterface(); err != nil {
			return err
		}
	}
	a.iface = iface
	if err := prepareMirror(iface); err != nil {
		a.log.Warn("mirror port setup", "interface", iface, "err", err)
	}
	fanout := a.cfg.Capture.Fanout
	if fanout == 0 {
		fanout = runtime.NumCPU()
	}
	group := uint16(os.Getpid())
	var rings []*ring.Ring
	for i := 0; i < fanout; i++ {
		rc := ring.Config{Interface: iface, Promiscuous: true, BlockSize: int(a.cfg.Capture.BlockSize), Blocks: a.cfg.Capture.Blocks}
		if fanout > 1 {
			rc.FanoutGroup = group
		}
		r, err := ring.Open(rc)
		if err != nil {
			for _, o := range rings {
				o.Close()
			}
			return err
		}
		rings = append(rings, r)
	}
	tcfg := calls.Config{
		MediaTimeout: time.Duration(a.cfg.Capture.MediaTimeout), DialogTimeout: time.Duration(a.cfg.Capture.DialogTimeout),
		LocalNets: a.cfg.LocalPrefixes(), Extensions: a.cfg.Capture.Extensions,
		MaxUnexplainedStored: a.cfg.Capture.MaxUnexplainedPackets,
	}
	if tcfg.MaxUnexplainedStored == 0 {
		tcfg.MaxUnexplainedStored = -1 // none stored (0 is the tracker's default)
	}
	budget := capture.Budget(a.cfg.Capture.MemoryBudget)
	budget.Tracker(&tcfg)
	// The capture path hands finished calls to a writer goroutine: it
	// never waits for the disk (an INVITE flood ends thousands of dialogs
	// a second).
	// The writer's queue of finished dialogs is capture state too: its
	// bound comes from the same budget.
	a.writer = vault.NewAsync(a.v, budget.WriterQueue())
	tr := calls.NewTracker(tcfg, a.writer, a.v)
	tr.Done = a.callDone
	dopt := decode.Options{DuplicateWindow: time.Duration(a.cfg.Capture.DedupWindow)}
	budget.Decoder(&dopt)
	dopt.MaxFragmentBytes /= max(1, len(rings)) // one decoder per ring
	p := capture.NewPipeline(decode.New(dopt), tr)
	budget.Pipeline(p)
	a.live = &capture.Live{P: p, Rings: rings, DecodeOptions: dopt}
	// Sealing call records waits while the rings fill (a burst of
	// INVITEs, a busy machine): packets cannot wait, records can.
	a.writer.YieldTo(a.live.Behind)

	ln, err := net.Listen("tcp", a.cfg.Status.Listen)
	if err != nil {
		for _, r := range rings {
			r.Close()
		}
		return fmt.Errorf("status.listen: %w", err)
	}
	a.apiCert, a.apiFingerprint, err = a.apiCertificate()
	if err != nil {
		ln.Close()
		for _, r := range rings {
			r.Close()
		}
		return err
	}
	a.apiLn, err = net.Listen("tcp", a.cfg.API.Listen)
	if err != nil {
		ln.Close()
		for _, r := range rings {
			r.Close()
		}
		return fmt.Errorf("api.listen: %w", err)
	}
	a.mu.Lock()
	a.listener = ln
	a.mu.Unlock()
	// Capture before everything else on the box: a recorder whose rings
	// overflow while other work runs loses calls.
	if n := a.cfg.Capture.Nice; n != 0 {
		if err := setNice(n); err != nil {
			a.log.Warn("could not raise the scheduling priority", "nice", n, "err", err)
		} else {
			a.log.Info("scheduling priority set", "nice", n)
		}
	}
	if !a.opt.KeepCapabilities && os.Geteuid() == 0 {
		if err := dropCapabilities(); err != nil {
			a.log.Warn("could not drop capabilities", "err", err)
		} else {
			a.log.Info("capabilities dropped; sockets are open")
		}
	}
	a.log.Info("recording", "interface", iface, "fanout", fanout, "vault", a.cfg.Vault.Dir, "status", ln.Addr().String())

	if root := a.cfg.LED.Root; root != "" {
		if dir, err := led.Find(root, a.cfg.LED.Name); err == nil {
			a.led = led.New(dir)
		} else {
			a.log.Info("no status LED", "err", err)
		}
	}

	// Bounded and timed out: 20,000 idle connections once used every
	// descriptor and silenced recording.
	a.conns = newLimitListener(ln, a.cfg.Status.MaxConns, a.cfg.Status.MaxConnsPerIP)
	srv := &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 30 * time.Second, MaxHeaderBytes: 16 << 10,
		ConnState: a.conns.connState, ConnContext: connContext}
	// The API's connections: the same bounds, tokens served from reserved
	// capacity (connlimit.go).
	apiConns := newLimitListener(a.apiLn, a.cfg.Status.MaxConns, a.cfg.Status.MaxConnsPerIP)
	var wg sync.WaitGroup
	capCtx, stopCapture := context.WithCancel(context.Background())
	errc := make(chan error, 4)
	wg.Add(1)
	go func() { defer wg.Done(); errc <- a.live.Run(capCtx) }()
	// The end of a reboot's capture gap; the update state is read now.
	if a.upd != nil {
		a.upd.setCaptureStarted(time.Now())
		a.updateAtStart()
	}
	go func() {
		if err := srv.Serve(a.conns); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("status page stopped", "err", err)
		}
	}()
	apiSrv := &http.Server{Handler: a.reserveAuthenticated(a.APIHandler()), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 30 * time.Second, MaxHeaderBytes: 16 << 10,
		ConnState: apiConns.connState, ConnContext: connContext,
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{a.apiCert}}}
	a.mu.Lock()
	a.apiConns = apiConns
	a.mu.Unlock()
	go func() {
		if err := apiSrv.ServeTLS(apiConns, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("API stopped", "err", err)
		}
	}()
	ledCtx, stopLED := context.WithCancel(context.Background())
	if a.led != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := a.led.Run(ledCtx); err != nil {
				a.log.Warn("status LED", "err", err)
			}
		}()
	}
	a.verifyAudit()
	a.refresh()
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	var runErr error
	captureDone := false
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-a.rebootRequested():
			// A firmware update is written: stop as on SIGTERM, then
			// reboot into it (rebootIntoUpdate).
			a.log.Info("firmware update written: stopping to reboot")
			break loop
		case err := <-errc:
			// Capture stopped on its own (the interface went away):
			// seal what is in progress and exit, so the supervisor
			// restarts the recorder.
			runErr, captureDone = err, true
			if runErr == nil {
				runErr = errors.New("capture stopped")
			}
			break loop
		case <-tick.C:
			a.maintain()
		}
	}
	// Shutdown: stop capture, seal calls in progress, close the vault.
	a.log.Info("shutting down: sealing calls in progress")
	stopCapture()
	if !captureDone {
		if err := <-errc; err != nil && runErr == nil {
			runErr = err
		}
	}
	a.live.Mu.Lock()
	a.live.P.Close("ended by shutdown")
	a.live.Mu.Unlock()
	captureStopped := time.Now()
	a.writer.Close() // every call ended above is sealed before the vault closes
	sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	if err := srv.Shutdown(sctx); err != nil {
		a.log.Warn("status page shutdown", "err", err)
	}
	if err := apiSrv.Shutdown(sctx); err != nil {
		a.log.Warn("API shutdown", "err", err)
	}
	cancel()
	stopLED()
	wg.Wait()
	if err := a.v.Audit("daemon_stopped", "appliance", "", "clean shutdown"); err != nil {
		a.log.Error("audit: daemon_stopped not written", "err", err)
		runErr = errors.Join(runErr, fmt.Errorf("audit: %w", err))
	}
	if err := a.rebootIntoUpdate(ctx, captureStopped); err != nil {
		runErr = errors.Join(runErr, err)
	}
	return runErr
}

// watchClock marks the clock synchronised when the kernel says so
// (adjtimex) or when gokrazy's WaitForClock returns (a Pi boots at 1970
// and jumps when NTP sets it).
func (a *Appliance) watchClock(ctx context.Context) {
	if a.opt.ClockSynced != nil {
		a.clockOK.Store(a.opt.ClockSynced())
		go func() {
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					a.clockOK.Store(a.opt.ClockSynced())
				}
			}
		}()
		return
	}
	if !a.cfg.Clock.RequireSync {
		a.clockOK.Store(true)
		return
	}
	var tx unix.Timex
	if st, err := unix.Adjtimex(&tx); err == nil && st != unix.TIME_ERROR && tx.Status&unix.STA_UNSYNC == 0 {
		a.clockOK.Store(true)
		return
	}
	go func() {
		gokrazy.WaitForClock()
		a.clockOK.Store(true)
		a.log.Info("clock synchronised")
	}()
}

func (a *Appliance) alert(al vault.Alert) {
	a.mu.Lock()
	a.alerts = append(a.alerts, al)
	if len(a.alerts) > 50 {
		a.alerts = a.alerts[len(a.alerts)-50:]
	}
	a.mu.Unlock()
	a.log.Warn("alert", "kind", al.Kind, "detail", al.Detail)
	if hook := a.cfg.Alerts.Hook; hook != "" {
		go func() {
			b, _ := json.Marshal(al)
			cmd := exec.Command("/bin/sh", "-c", hook)
			cmd.Stdin = strings.NewReader(string(b))
			if out, err := cmd.CombinedOutput(); err != nil {
				a.log.Warn("alert hook failed", "err", err, "output", string(out))
			}
		}()
	}
}

func (a *Appliance) callDone(c *calls.Call) {
	day := time.Now().Format("2006-01-02")
	a.mu.Lock()
	if a.today.day != day {
		a.today = dayCount{day: day}
	}
	a.today.calls++
	if c.Recorded && !c.RecordingLost() {
		a.today.recorded++
		a.today.countCompleteness(c)
	}
	// Dialogs that were never answered (a SIP scanner sends thousands a
	// second) are summarised once a minute instead of a line each.
	quiet := !c.Recorded && !c.State.Answered()
	var summary int
	if quiet {
		a.unansweredLog++
		if time.Since(a.unansweredAt) >= time.Minute {
			summary, a.unansweredLog, a.unansweredAt = a.unansweredLog, 0, time.Now()
		}
	}
	a.mu.Unlock()
	switch {
	case !quiet:
		a.log.Info("call ended", "state", c.State, "recorded", c.Recorded, "streams", len(c.Streams), "reason", c.EndReason)
	case summary > 0:
		a.log.Info("dialogs ended without an answer", "count", summary, "since", "last summary")
	}
}

// maintain runs every couple of seconds: status, LED, and on their own
// schedules retention and audit verification.
func (a *Appliance) maintain() {
	a.refresh()
	a.mu.Lock()
	due := time.Since(a.lastSweep) >= time.Duration(a.cfg.Vault.SweepEvery)
	auditDue := time.Since(a.auditAt) >= time.Hour
	a.mu.Unlock()
	if due && a.clockOK.Load() {
		res, err := a.v.Sweep()
		a.mu.Lock()
		a.lastSweep, a.sweep = time.Now(), res
		a.mu.Unlock()
		if err != nil {
			a.log.Error("retention sweep", "err", err)
		} else if res.Deleted > 0 {
			a.log.Info("retention sweep", "deleted", res.Deleted)
		}
		if res.Overdue > 0 {
			a.log.Warn("retention: recordings past their maximum age kept until the archive acknowledges them (must_sync)", "overdue", res.Overdue)
		}
	}
	if auditDue {
		a.verifyAudit()
	}
}

func (a *Appliance) verifyAudit() {
	n, err := a.v.VerifyAudit()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.auditAt, a.auditN = time.Now(), n
	a.auditOK = err == nil
	a.auditErr = ""
	if err != nil {
		a.auditErr = err.Error()
	}
}

// MirrorInterface picks the capture interface when none is configured:
// the one that is up, is not loopback and carries no IP address (a mirror
// port is not part of the LAN; the box's own uplink has an address).
func MirrorInterface() (string, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return "", err
	}
	var cands []string
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback != 0 || len(i.HardwareAddr) == 0 {
			continue
		}
		addrs, _ := i.Addrs()
		hasIP := false
		for _, ad := range addrs {
			if ipn, ok := ad.(*net.IPNet); ok && !ipn.IP.IsLinkLocalUnicast() {
				hasIP = true
			}
		}
		if !hasIP {
			cands = append(cands, i.Name)
		}
	}
	if len(cands) == 0 {
		return "", errors.New("capture.interface: not set, and no interface without an IP address (a mirror port) was found")
	}
	return cands[0], nil
}

// prepareMirror brings the mirror port up and stops the kernel from
// talking on it (IPv6 autoconfiguration would send frames into the
// switch's mirror session).
func prepareMirror(iface string) error {
	if iface == "lo" {
		return nil
	}
	_ = os.WriteFile("/proc/sys/net/ipv6/conf/"+iface+"/disable_ipv6", []byte("1"), 0) // best effort: a kernel or port without IPv6 has no such file
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(iface)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// raiseFileLimit makes room for recordings: Go raises the soft limit on
// open files to the hard one at start; as root (before capabilities are
// dropped) the hard one is raised to 65,536 too when it is lower.
func (a *Appliance) raiseFileLimit() {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return
	}
	if rl.Max < 65536 {
		want := unix.Rlimit{Cur: 65536, Max: 65536}
		if unix.Setrlimit(unix.RLIMIT_NOFILE, &want) == nil {
			rl = want
		}
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
			a.log.Warn("raising the open file limit", "err", err)
		}
	}
	a.log.Info("open file limit", "limit", rl.Cur)
}

package appliance

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/spanvault/spanvault/appliance/led"
	"github.com/spanvault/spanvault/capture"
	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/decode"
	"github.com/spanvault/spanvault/capture/ring"
	"github.com/spanvault/spanvault/internal/httperr"
	"github.com/spanvault/spanvault/sync/client"
	"github.com/spanvault/spanvault/vault"
)

// Status is what the status page, /api/status and /metrics show. It holds
// counts and states only: no number, name, Call-ID or address.
type Status struct {
	Time      time.Time     `json:"time"`
	Uptime    string        `json:"uptime"`
	Healthy   bool          `json:"healthy"`
	LED       string        `json:"led"`
	Capture   CaptureStatus `json:"capture"`
	Calls     CallsStatus   `json:"calls"`
	Disk      DiskStatus    `json:"disk"`
	Retention RetentionStat `json:"retention"`
	Sync      SyncStatus    `json:"sync"`
	Audit     AuditStatus   `json:"audit"`
	Clock     ClockStatus   `json:"clock"`
	Alerts    []vault.Alert `json:"alerts"`
	API       APIStatus     `json:"api"`
	Attack    AttackStatus  `json:"attack"`
	// Enroll is zero-touch enrollment's state while the box is not
	// enrolled: the code an admin approves at the archive.
	Enroll *client.EnrollState `json:"enroll,omitempty"`
	// Firmware is the build running and its update state (update_run.go).
	Firmware *FirmwareStatus `json:"firmware,omitempty"`
	// Trends: the last day of calls, packets, drops and disk, drawn on
	// the page (trends.go).
	Trends []Trend `json:"-"`
}

// APIStatus says where the local API answers and which certificate it
// presents (desks pin the fingerprint of a self-signed one).
type APIStatus struct {
	Listen      string `json:"listen"`
	Fingerprint string `json:"sha256_fingerprint"`
}

// CaptureStatus describes the mirror port.
type CaptureStatus struct {
	Interface     string  `json:"interface"`
	Healthy       bool    `json:"healthy"`
	PacketsPerSec float64 `json:"packets_per_s"`
	SIPPerSec     float64 `json:"sip_per_s"`
	Frames        uint64  `json:"frames"`
	Bytes         uint64  `json:"bytes"`
	SIPMessages   uint64  `json:"sip_messages"`
	RTPPackets    uint64  `json:"media_packets"`
	KernelPackets uint64  `json:"kernel_packets"`
	KernelDrops   uint64  `json:"kernel_drops"`
	// StatusConnsRefused counts page connections closed at the bounds.
	StatusConnsRefused uint64    `json:"status_conns_refused"`
	DecodeErrors       uint64    `json:"decode_errors"`
	Duplicates         uint64    `json:"mirror_duplicates"`
	SIPOverTLS         uint64    `json:"sip_tls_connections"`
	LastSIP            time.Time `json:"last_sip,omitzero"`
	NoSIPFor           string    `json:"no_sip_for,omitempty"`
	NoSIPWarning       bool      `json:"no_sip_warning"`
	// MemoryBudget is capture.memory_budget; Shed what was given up to
	// stay within it (attack state: evicted dialogs, SIP not held,
	// incomplete datagrams, TCP streams that never complete a message).
	MemoryBudget int64        `json:"memory_budget"`
	Shed         capture.Shed `json:"shed"`
}

// CallsStatus counts calls.
type CallsStatus struct {
	InProgress    int    `json:"in_progress"`
	Today         int    `json:"ended_today"`
	RecordedToday int    `json:"recorded_today"`
	Recorded      uint64 `json:"recorded_since_start"`
	RecordErrors  uint64 `json:"record_errors"`
	Failing       bool   `json:"recording_failing"` // a recording error within the last ten minutes
	// MediaClaimsRefused counts SDPs naming a live call's media address.
	MediaClaimsRefused uint64 `json:"media_claims_refused"`
	RecordsShed        uint64 `json:"call_records_shed"` // call detail records dropped at the writer's bound
	WriterBacklog      int    `json:"writer_backlog"`    // finished calls waiting to be written

	// IncompleteByUsToday: calls recorded today that miss packets which
	// crossed the wire (the box's or the mirror's loss, not the network's).
	IncompleteByUsToday int `json:"incomplete_by_us_today"`
}

// DiskStatus describes storage.
type DiskStatus struct {
	vault.Usage
	Quota         bool    `json:"quota"` // Limit is a configured quota, not the file system
	Recordings    int     `json:"recordings"`
	BytesPerDay   float64 `json:"bytes_per_day"`
	DaysUntilFull float64 `json:"days_until_full"` // -1: no forecast yet
	// ClassicalOnly counts the recordings kept whose file key is wrapped
	// to classical (X25519) recipients only (sealed before the box's
	// recipients were hybrid post-quantum ones).
	ClassicalOnly int `json:"classical_only"`
	// CountedAt is when Recordings and ClassicalOnly were counted: the
	// index is walked at most once a minute (indexStats).
	CountedAt time.Time `json:"counted_at,omitzero"`
}

// RetentionStat describes retention.
type RetentionStat struct {
	LastSweep time.Time `json:"last_sweep,omitzero"`
	Deleted   int       `json:"deleted_last_sweep"`
	Backlog   int       `json:"backlog"` // past expiry, waiting for the sweep (or held)
	Held      int       `json:"on_hold"`
	Skipped   string    `json:"skipped,omitempty"`
}

// SyncStatus describes the archive sync.
type SyncStatus struct {
	Configured   bool      `json:"configured"`
	State        string    `json:"state"`
	Pending      int       `json:"pending"`
	PendingBytes int64     `json:"pending_bytes"`
	LastSuccess  time.Time `json:"last_success,omitzero"`
	LastError    string    `json:"last_error,omitempty"`
	Window       string    `json:"window,omitempty"`
	CertNotAfter time.Time `json:"cert_not_after,omitzero"`
	Archive      string    `json:"archive,omitempty"`
	ClockSkew    float64   `json:"clock_skew_s,omitempty"`
}

// AuditStatus describes the audit chain.
type AuditStatus struct {
	OK           bool      `json:"ok"`
	Entries      uint64    `json:"entries"`
	LastVerified time.Time `json:"last_verified,omitzero"`
	Error        string    `json:"error,omitempty"`
}

// ClockStatus says whether the clock is trusted.
type ClockStatus struct {
	Synced bool `json:"synced"`
}

// counters takes one consistent snapshot of the capture counters.
func (a *Appliance) counters() (decode.Stats, ring.Stats, capture.Stats, calls.Stats, int) {
	a.live.Mu.Lock()
	defer a.live.Mu.Unlock()
	return a.live.DecoderStats(), a.live.RingStats(), a.live.P.Stats, a.live.P.Tracker.Stats, a.live.P.Tracker.Active()
}

// indexCounts are figures that need a walk over the whole index.
type indexCounts struct {
	at                        time.Time
	recordings, backlog, held int
	lastDay                   int64
	// classical counts recordings sealed to classical (X25519)
	// recipients only; classicalOf remembers each file's answer (a
	// file's header never changes on the box).
	classical   int
	classicalOf map[string]bool
}

// indexStats walks the index at most once a minute: a busy branch holds
// hundreds of thousands of entries, and the page refreshes every few
// seconds.
func (a *Appliance) indexStats(now time.Time) indexCounts {
	a.mu.Lock()
	cached := a.idx
	a.mu.Unlock()
	if !cached.at.IsZero() && now.Sub(cached.at) < time.Minute {
		return cached
	}
	c := indexCounts{at: now, classicalOf: map[string]bool{}}
	es, _ := a.v.List()
	for _, e := range es {
		if e.Recorded {
			c.recordings++
			cl, ok := cached.classicalOf[e.ID]
			if !ok {
				var err error
				if cl, err = a.v.ClassicalOnly(e.ID); err != nil {
					cl = false // not readable now: asked again next time
				} else {
					ok = true
				}
			}
			if ok {
				c.classicalOf[e.ID] = cl
			}
			if cl {
				c.classical++
			}
			if now.Sub(e.Start) < 24*time.Hour {
				c.lastDay += e.Size
			}
		}
		if len(e.Holds) > 0 {
			c.held++
		}
		if !e.Expiry.IsZero() && e.Expiry.Before(now) {
			c.backlog++
		}
	}
	a.mu.Lock()
	a.idx = c
	a.mu.Unlock()
	return c
}

// refresh recomputes the status and sets the LED.
func (a *Appliance) refresh() {
	now := time.Now()
	ds, rs, ps, ts, active := a.counters()

	vs := a.indexStats(now)
	recs, backlog, held, lastDay := vs.recordings, vs.backlog, vs.held, vs.lastDay
	usage := a.v.Usage()

	a.mu.Lock()
	defer a.mu.Unlock()
	st := Status{Time: now, Uptime: now.Sub(a.start).Round(time.Second).String()}
	c := &st.Capture
	c.Interface = a.iface
	c.Frames, c.Bytes, c.DecodeErrors, c.Duplicates = ds.Frames, ds.Bytes, ds.Malformed, ds.Duplicates
	c.SIPMessages = ts.SIPMessages
	c.RTPPackets = ts.MediaPackets
	c.KernelPackets, c.KernelDrops = rs.Packets, rs.Drops
	c.SIPOverTLS = ps.TLSConnections
	c.MemoryBudget = int64(a.cfg.Capture.MemoryBudget)
	c.Shed = shedOf(ds, ps, ts)
	c.LastSIP = ps.LastSIP
	if !a.rate.at.IsZero() {
		dt := now.Sub(a.rate.at).Seconds()
		if dt > 0 {
			c.PacketsPerSec = float64(ds.Frames-a.rate.frames) / dt
			c.SIPPerSec = float64(ts.SIPMessages-a.rate.sip) / dt
		}
	}
	a.rate = rateSample{at: now, frames: ds.Frames, sip: ts.SIPMessages}
	since := ps.LastSIP
	if since.IsZero() {
		since = a.start
	}
	if quiet := now.Sub(since); quiet > time.Duration(a.cfg.Capture.NoSIPWarning) {
		c.NoSIPWarning = true
		c.NoSIPFor = quiet.Round(time.Minute).String()
	}
	c.Healthy = !c.NoSIPWarning && c.KernelDrops == 0

	day := now.Format("2006-01-02")
	if a.today.day != day {
		a.today = dayCount{day: day}
	}
	recorded, recErr := a.recordCounts(ts)
	st.Calls = CallsStatus{InProgress: active, Today: a.today.calls, RecordedToday: a.today.recorded, Recorded: recorded, RecordErrors: recErr}
	st.Calls.IncompleteByUsToday = a.today.incompleteByUs
	if a.writer != nil {
		st.Calls.RecordsShed = a.writer.Shed.Load()
		st.Calls.WriterBacklog = a.writer.Pending()
	}
	// Any new recording error makes the box unhealthy for ten minutes
	// (page, LED and an alert): a recorder must never look fine while
	// calls are being lost.
	if n := st.Calls.RecordErrors; n > a.recErrs {
		a.recErrs, a.recErrAt = n, now
		al := vault.Alert{Time: now, Kind: AlertRecordingFailed, Detail: fmt.Sprintf("%d recording errors since start (too many open files, unwritable vault, full disk?)", n)}
		go a.alert(al) // takes a.mu, held here
	}
	st.Calls.Failing = !a.recErrAt.IsZero() && now.Sub(a.recErrAt) < RecordFailingFor
	st.Calls.MediaClaimsRefused = ts.MediaClaimsRefused
	if ts.MediaClaimsRefused > a.claims {
		al := vault.Alert{Time: now, Kind: AlertMediaClaim, Detail: fmt.Sprintf("%d SDPs named the media address of a live call (hijack attempt or misconfigured PBX); the live calls kept their media", ts.MediaClaimsRefused-a.claims)}
		a.claims = ts.MediaClaimsRefused
		go a.alert(al)
	}
	if a.conns != nil {
		st.Capture.StatusConnsRefused = a.conns.Refused()
		if a.apiConns != nil {
			st.Capture.StatusConnsRefused += a.apiConns.Refused()
		}
	}
	sh := c.Shed
	attack, attackAlert := a.attack.observe(now, map[string]uint64{
		signShed:    sh.Dialogs + sh.SIPHeld + sh.Fragments + sh.TCP,
		signRecords: st.Calls.RecordsShed,
		signClaims:  ts.MediaClaimsRefused,
		signAnomaly: ts.Anomalies,
		signConns:   st.Capture.StatusConnsRefused,
		signFlood:   a.v.FloodDialogs(),
		signEvicted: a.v.UnansweredEvicted(),
	}, ts.Anomalies)
	st.Attack = attack
	if attackAlert != nil {
		go a.alert(*attackAlert)
	}

	st.Disk = DiskStatus{Usage: usage, Quota: a.cfg.Vault.Quota > 0, Recordings: recs, DaysUntilFull: -1, ClassicalOnly: vs.classical, CountedAt: vs.at}
	if up := now.Sub(a.start); lastDay > 0 {
		span := min(up, 24*time.Hour)
		if span < time.Hour {
			span = time.Hour // do not extrapolate minutes of traffic to a day
		}
		st.Disk.BytesPerDay = float64(lastDay) / span.Hours() * 24
		free := usage.Limit - usage.Used
		if a.cfg.Vault.Quota == 0 {
			free = usage.FSFree
		}
		if st.Disk.BytesPerDay > 0 && free > 0 {
			st.Disk.DaysUntilFull = float64(free) / st.Disk.BytesPerDay
		}
	}
	st.Retention = RetentionStat{LastSweep: a.lastSweep, Deleted: a.sweep.Deleted, Backlog: backlog, Held: held, Skipped: a.sweep.Skipped}
	if !a.clockOK.Load() {
		st.Retention.Skipped = "clock not synchronised: nothing is deleted until it is"
	}
	st.Sync = SyncStatus{State: "not configured"}
	if a.sync != nil {
		ss := a.sync.State()
		st.Sync = SyncStatus{Configured: ss.Configured, Pending: ss.Pending, State: "ok", PendingBytes: ss.Detail.BacklogBytes,
			LastSuccess: ss.LastSuccess, LastError: ss.Detail.LastError, Window: ss.Window, CertNotAfter: ss.Detail.CertNotAfter,
			Archive: ss.Detail.Archive, ClockSkew: ss.Detail.ClockSkew}
		if ss.Detail.LastError != "" {
			st.Sync.State = "retrying"
		}
		if ss.Failing {
			st.Sync.State = "failing"
		}
	}
	st.Audit = AuditStatus{OK: a.auditOK, Entries: a.auditN, LastVerified: a.auditAt, Error: a.auditErr}
	st.Clock = ClockStatus{Synced: a.clockOK.Load()}
	a.trend.observe(trendPoint{At: now, Calls: ts.Calls, Packets: ds.Frames, Drops: rs.Drops, DiskUsed: usage.Used})
	st.Trends = a.trend.trends(now)
	st.Alerts = append([]vault.Alert(nil), a.alerts...)
	st.API = APIStatus{Listen: a.cfg.API.Listen, Fingerprint: a.apiFingerprint}
	st.Firmware = a.firmwareStatus()
	cond := led.Conditions{
		AuditFailed: !a.auditOK,
		DiskFull:    usage.Refusing || usage.Fraction >= a.cfg.Vault.HighWater || st.Calls.Failing,
		NoSIP:       c.NoSIPWarning,
		SyncFailing: a.sync != nil && a.sync.State().Failing,
		Attack:      attack.Seen,
		Running:     true,
		Enrolling:   a.enroll != nil && a.enroll.State != "approved",
	}
	if a.enroll != nil {
		e := *a.enroll
		st.Enroll = &e
		if a.led != nil {
			a.led.SetCode(e.Code)
		}
	}
	p := led.Choose(cond)
	st.LED = p.String()
	st.Healthy = p == led.Recording
	if a.led != nil {
		a.led.Set(p)
	}
	a.status = st
}

// Status returns the last computed status.
func (a *Appliance) Status() Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.status
}

// Handler serves the status page, /api/status, /metrics and the local API.
func (a *Appliance) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.page)
	mux.HandleFunc("GET /status.css", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Write(statusCSS)
	})
	mux.HandleFunc("GET /api/status", func(w http.ResponseWriter, r *http.Request) {
		a.refresh()
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(a.Status())
	})
	reg := prometheus.NewRegistry()
	reg.MustRegister(a)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	// The API is not here: it carries tokens and numbers, and is served
	// over TLS only (APIHandler on api.listen).
	mux.HandleFunc("/api/v1/", func(w http.ResponseWriter, r *http.Request) {
		apiError(w, http.StatusMisdirectedRequest, "the local API is served over HTTPS on api.listen only")
	})
	return securityHeaders(mux)
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Content-Security-Policy", statusCSP)
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// The status page: status.html with the Status as its data, styled by
// status.css (no inline style or script: the page's CSP allows neither).
//
//go:embed status.html status.css
var statusFiles embed.FS

var pageTmpl = template.Must(template.New("status.html").Funcs(template.FuncMap{
	"gb":  func(b int64) string { return formatBytes(b) },
	"pct": func(f float64) string { return template.HTMLEscapeString(trimFloat(f*100, 1)) + "%" },
	"f1":  func(f float64) string { return trimFloat(f, 1) },
	// ago says how old a figure counted at from is at now ("40 s ago").
	"ago": func(now, from time.Time) string {
		if from.IsZero() {
			return "not yet counted"
		}
		d := max(now.Sub(from), 0).Truncate(time.Second)
		if d < time.Minute {
			return strconv.Itoa(int(d/time.Second)) + " s ago"
		}
		return d.Truncate(time.Minute).String() + " ago"
	},
	"t": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.Local().Format("2006-01-02 15:04:05")
	},
}).ParseFS(statusFiles, "status.html"))

// statusCSS is the page's style sheet, served at /status.css.
var statusCSS, _ = statusFiles.ReadFile("status.css")

// statusCSP is the status page's Content-Security-Policy: nothing but its
// own style sheet; no script, no inline style, never framed.
const statusCSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// page renders the status page into a buffer first: a template error is
// a 500 (and a log line), never half a page.
func (a *Appliance) page(w http.ResponseWriter, r *http.Request) {
	a.refresh()
	var b bytes.Buffer
	if err := pageTmpl.Execute(&b, a.Status()); err != nil {
		httperr.Writer{Logger: a.log}.Write(w, r, fmt.Errorf("status page: %w", err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if _, err := w.Write(b.Bytes()); err != nil {
		a.log.Debug("status page: client went away", "err", err)
	}
}

func formatBytes(b int64) string {
	const unit = 1024
	if b < unit {
		return trimFloat(float64(b), 0) + " B"
	}
	div, exp := int64(unit), 0
	for n := b / unit; n >= unit; n /= unit {
		div *= unit
		exp++
	}
	return trimFloat(float64(b)/float64(div), 1) + " " + string("KMGTPE"[exp]) + "iB"
}

func trimFloat(f float64, prec int) string {
	return strconv.FormatFloat(f, 'f', prec, 64)
}

// metric descriptors
var (
	mFrames   = prometheus.NewDesc("spanvault_capture_frames_total", "Frames taken from the capture ring.", nil, nil)
	mBytes    = prometheus.NewDesc("spanvault_capture_bytes_total", "Bytes taken from the capture ring.", nil, nil)
	mKernel   = prometheus.NewDesc("spanvault_capture_kernel_packets_total", "Packets the kernel passed to the capture sockets (PACKET_STATISTICS).", nil, nil)
	mDrops    = prometheus.NewDesc("spanvault_capture_kernel_drops_total", "Packets the kernel dropped because the ring was full.", nil, nil)
	mSIP      = prometheus.NewDesc("spanvault_sip_messages_total", "SIP messages parsed.", nil, nil)
	mMedia    = prometheus.NewDesc("spanvault_media_packets_total", "RTP and RTCP packets associated with a call.", nil, nil)
	mUnassoc  = prometheus.NewDesc("spanvault_unassociated_packets_total", "UDP packets that matched no call.", nil, nil)
	mTLS      = prometheus.NewDesc("spanvault_sip_tls_connections_total", "SIP over TLS connections seen (not readable passively).", nil, nil)
	mCalls    = prometheus.NewDesc("spanvault_calls_total", "INVITE dialogs seen.", nil, nil)
	mRecorded = prometheus.NewDesc("spanvault_calls_recorded_total", "Calls with media stored.", nil, nil)
	mActive   = prometheus.NewDesc("spanvault_calls_in_progress", "Dialogs held by the tracker.", nil, nil)
	mRecErr   = prometheus.NewDesc("spanvault_record_errors_total", "Errors writing recordings.", nil, nil)
	mDisk     = prometheus.NewDesc("spanvault_vault_used_bytes", "Bytes of sealed recordings.", nil, nil)
	mDiskFrac = prometheus.NewDesc("spanvault_vault_used_ratio", "Disk use against the quota or file system.", nil, nil)
	mRefusing = prometheus.NewDesc("spanvault_vault_refusing", "1 while new recordings are refused for lack of space.", nil, nil)
	mAuditOK  = prometheus.NewDesc("spanvault_audit_chain_ok", "1 when the audit chain verified.", nil, nil)
	mClock    = prometheus.NewDesc("spanvault_clock_synchronised", "1 when the clock is trusted.", nil, nil)
	mAnomaly  = prometheus.NewDesc("spanvault_media_anomalies_total", "Packets beyond a call's stream or event bounds (spoofed RTP or DTMF): stored, flagged, kept out of the audio.", nil, nil)
	mClaims   = prometheus.NewDesc("spanvault_media_claims_refused_total", "SDPs that named the media address of a live call (the live call kept it).", nil, nil)
	mAttack   = prometheus.NewDesc("spanvault_attack_seen", "1 while a sign of attack traffic grew within the last ten minutes.", nil, nil)
	mShed     = prometheus.NewDesc("spanvault_capture_shed_total", "Capture state given up to stay within capture.memory_budget, by kind.", []string{"kind"}, nil)
)

// recordCounts is the calls recorded and the recording errors, for the
// status and the metrics alike: the tracker's counts, less the
// recordings the writer could not open (the tracker had handed them
// over), plus the writer's failures.
func (a *Appliance) recordCounts(ts calls.Stats) (recorded, errs uint64) {
	recorded, errs = ts.CallsRecorded, ts.RecordErrors
	if a.writer != nil {
		errs += a.writer.Failed.Load()
		recorded -= min(recorded, a.writer.NotOpened.Load())
	}
	return recorded, errs
}

// Describe implements prometheus.Collector.
func (a *Appliance) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{mFrames, mBytes, mKernel, mDrops, mSIP, mMedia, mUnassoc, mTLS, mCalls, mRecorded, mActive, mRecErr, mDisk, mDiskFrac, mRefusing, mAuditOK, mClock, mShed, mAnomaly, mClaims, mAttack} {
		ch <- d
	}
}

// Collect implements prometheus.Collector from live counters.
func (a *Appliance) Collect(ch chan<- prometheus.Metric) {
	ds, rs, ps, ts, active := a.counters()
	u := a.v.Usage()
	c := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	g := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	c(mFrames, float64(ds.Frames))
	c(mBytes, float64(ds.Bytes))
	c(mKernel, float64(rs.Packets))
	c(mDrops, float64(rs.Drops))
	c(mSIP, float64(ts.SIPMessages))
	c(mMedia, float64(ts.MediaPackets))
	c(mUnassoc, float64(ts.Unassociated))
	c(mTLS, float64(ps.TLSConnections))
	c(mCalls, float64(ts.Calls))
	recorded, recErr := a.recordCounts(ts)
	c(mRecorded, float64(recorded))
	g(mActive, float64(active))
	c(mRecErr, float64(recErr))
	g(mDisk, float64(u.Used))
	g(mDiskFrac, u.Fraction)
	g(mRefusing, b(u.Refusing))
	a.mu.Lock()
	ok, seen := a.auditOK, a.status.Attack.Seen
	a.mu.Unlock()
	g(mAuditOK, b(ok))
	g(mClock, b(a.clockOK.Load()))
	c(mAnomaly, float64(ts.Anomalies))
	c(mClaims, float64(ts.MediaClaimsRefused))
	g(mAttack, b(seen))
	sh := shedOf(ds, ps, ts)
	for kind, v := range map[string]uint64{"dialogs": sh.Dialogs, "sip_held": sh.SIPHeld, "fragments": sh.Fragments, "tcp": sh.TCP} {
		ch <- prometheus.MustNewConstMetric(mShed, prometheus.CounterValue, float64(v), kind)
	}
}

func shedOf(ds decode.Stats, ps capture.Stats, ts calls.Stats) capture.Shed {
	return capture.Shed{Dialogs: ts.CallsEvicted, SIPHeld: ts.PendingOverflow, Fragments: ds.FragmentsShed, TCP: ps.TCPShed}
}

package archive

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/spanvault/spanvault/archive/store"
	"github.com/spanvault/spanvault/internal/units"
)

// Config is the archive's one configuration file (DIR/archive.toml),
// written by init and validated once at open.
type Config struct {
	// Name is the archive's name (in its CA and checkpoints).
	Name string `toml:"name"`
	// Listen is the ingest address (host:port) boxes connect to; enroll
	// writes it into sync.toml.
	Listen string `toml:"listen"`
	// Advertise lists the addresses boxes are given (default: Listen).
	Advertise []string `toml:"advertise"`
	// Store is where recordings live: a directory (relative to DIR), or
	// s3://ACCESS_KEY:SECRET_KEY@HOST:PORT/BUCKET[?tls=false] for an S3
	// bucket with Object Lock (this file is 0600: it then holds a secret).
	Store string `toml:"store"`
	// Index is the index database: a SQLite file (relative to DIR), or a
	// postgres:// URL (libpq form, a unix socket allowed) for an index
	// that several archive front-ends share.
	Index string `toml:"index"`
	// CertLifetime is an appliance certificate's lifetime; boxes renew at
	// two thirds of it. RenewAfterExpiry bounds how long after expiry a
	// box may still renew (a box offline for weeks).
	CertLifetime     units.Duration `toml:"cert_lifetime"`
	RenewAfterExpiry units.Duration `toml:"renew_after_expiry"`
	// MaxClockSkew: a box whose clock differs more is told so and alerted.
	MaxClockSkew units.Duration `toml:"max_clock_skew"`
	// PartialTTL: partial uploads that received no byte for this long
	// are removed (a day by default).
	PartialTTL units.Duration `toml:"partial_ttl"`
	// MaxRecording bounds one sealed recording: an upload declaring a
	// larger Upload-Length is refused (413) before any byte is written
	// ("2GiB" by default).
	MaxRecording Size `toml:"max_recording"`
	// PartialQuota bounds one box's unfinished uploads: the declared
	// lengths of its uploads in progress plus the bytes held of its idle
	// partials. An upload that would exceed it is refused (507) before
	// any byte is written ("8GiB" by default; at least max_recording).
	PartialQuota Size `toml:"partial_quota"`
	// UploadStall and UploadMinRate: a request's body (an upload's, or a
	// message's) must bring at least UploadMinRate bytes per second,
	// measured over every UploadStall (by default 30s and 1KiB): a
	// request that brings less is cut (an upload with 408, keeping the
	// bytes that arrived), so that a stalled box holds no connection,
	// partial or handler for long.
	UploadStall   units.Duration `toml:"upload_stall"`
	UploadMinRate Size           `toml:"upload_min_rate"`
	// Retention per class at the archive (from the call's start);
	// classes not listed keep DefaultRetention.
	DefaultRetention units.Duration            `toml:"default_retention"`
	Retention        map[string]units.Duration `toml:"retention"`
	// LegalRetention lists the classes a law requires to be kept (MiFID
	// II, for instance): locked in COMPLIANCE mode, and an erasure request
	// is refused until the date (GDPR Art. 17(3)(b)). Other classes are
	// GOVERNANCE: the bank's own retention, which erasure overrides.
	LegalRetention []string `toml:"legal_retention"`
	// Access configures the access service (spanvault-archive serve -web).
	Access AccessConfig `toml:"access"`
	// Enroll is the sync settings a box enrolled without touching it
	// receives at its approval (enrollcode.go).
	Enroll EnrollConfig `toml:"enroll"`
}

// AccessConfig is the [access] section: sessions, the insider alert,
// where alerts go, and when a box counts as silent.
type AccessConfig struct {
	// IdleTimeout ends a session unused this long; SessionLifetime ends
	// any session this long after sign-in.
	IdleTimeout     units.Duration `toml:"idle_timeout"`
	SessionLifetime units.Duration `toml:"session_lifetime"`
	// InsiderMaxPlays distinct recordings played, exported or streamed
	// (through the user's links) within InsiderWindow are the most one
	// user gets: the next is refused and suspends the user until a second
	// person clears it. Access outside WorkingHours ("07:00-20:00", the
	// default; "22:00-06:00" runs over midnight; "00:00-24:00": any hour)
	// on WorkingDays is refused and suspends too.
	InsiderMaxPlays int            `toml:"insider_max_plays"`
	InsiderWindow   units.Duration `toml:"insider_window"`
	WorkingHours    string         `toml:"working_hours"`
	// Alerts go to the data-protection officer: a webhook (JSON POST)
	// and e-mail through an SMTP relay (host:port) from SMTPFrom to
	// AlertEmail. Empty fields are not used.
	AlertWebhook string `toml:"alert_webhook"`
	AlertEmail   string `toml:"alert_email"`
	SMTP         string `toml:"smtp"`
	SMTPFrom     string `toml:"smtp_from"`
	// FleetSilentAfter: a box not checked in for this long is an alert;
	// so is a certificate expiring within FleetCertWarn.
	FleetSilentAfter units.Duration `toml:"fleet_silent_after"`
	FleetCertWarn    units.Duration `toml:"fleet_cert_warn"`
	// MaxLinkTTL bounds a streaming link's lifetime.
	MaxLinkTTL units.Duration `toml:"max_link_ttl"`
	// PublicURL is the access service's address as the CRM reaches it
	// (https://HOST[:PORT], no query): streaming links are built on it,
	// never on a request's Host header, and so are setup links. Empty: no
	// link can be minted, and no account added or reset.
	PublicURL string `toml:"public_url"`
	// WorkingDays ("Mon-Sat", "Mon-Fri,Sun") are the days WorkingHours
	// start on; TimeZone (an IANA name, "Europe/Berlin"; empty: the
	// machine's local time) is where both are read.
	WorkingDays string `toml:"working_days"`
	TimeZone    string `toml:"time_zone"`
	// PlaybackCacheMiB bounds the decoded audio kept in memory for seeking.
	PlaybackCacheMiB int `toml:"playback_cache_mib"`
	// TimestampURL is an RFC 3161 time-stamping authority (http or
	// https): evidence bundles then carry its token over their
	// checkpoint. Empty: bundles carry none.
	TimestampURL string `toml:"timestamp_url"`
	// PhoneRegion ("DE") is how a number written without its country
	// code is read in searches and the index (config_search.go);
	// Extensions are the branches' dial patterns ("2xxx"), from which a
	// call the box could not place gets its direction.
	PhoneRegion string   `toml:"phone_region"`
	Extensions  []string `toml:"extensions"`
}

// defaults fills what an older configuration file does not set.
func (c *AccessConfig) defaults() {
	set := func(d *units.Duration, v time.Duration) {
		if *d == 0 {
			*d = units.Duration(v)
		}
	}
	set(&c.IdleTimeout, 15*time.Minute)
	set(&c.SessionLifetime, 12*time.Hour)
	set(&c.InsiderWindow, 10*time.Minute)
	set(&c.FleetSilentAfter, 26*time.Hour)
	set(&c.FleetCertWarn, 7*24*time.Hour)
	set(&c.MaxLinkTTL, time.Hour)
	if c.WorkingHours == "" {
		c.WorkingHours = DefaultWorkingHours
	}
	if c.WorkingDays == "" {
		c.WorkingDays = DefaultWorkingDays
	}
	if c.InsiderMaxPlays == 0 {
		c.InsiderMaxPlays = 100
	}
	if c.PlaybackCacheMiB == 0 {
		c.PlaybackCacheMiB = 256
	}
}

// ParseHours reads "HH:MM-HH:MM" into minutes after midnight.
func ParseHours(s string) (from, to int, err error) {
	var h1, m1, h2, m2 int
	if _, err := fmt.Sscanf(s, "%d:%d-%d:%d", &h1, &m1, &h2, &m2); err != nil || h1 > 23 || h2 > 24 || m1 > 59 || m2 > 59 || h1 < 0 || h2 < 0 || m1 < 0 || m2 < 0 {
		return 0, 0, fmt.Errorf("%q is not HH:MM-HH:MM", s)
	}
	return h1*60 + m1, h2*60 + m2, nil
}

func (c Config) lockMode(class string) string {
	for _, l := range c.LegalRetention {
		if l == class {
			return store.Compliance
		}
	}
	return store.Governance
}

const configFile = "archive.toml"

func defaultConfig(name, listen string) Config {
	c := Config{
		Name:             name,
		Listen:           listen,
		Store:            "store",
		Index:            "index.db",
		CertLifetime:     units.Duration(30 * 24 * time.Hour),
		RenewAfterExpiry: units.Duration(60 * 24 * time.Hour),
		MaxClockSkew:     units.Duration(2 * time.Minute),
		PartialTTL:       units.Duration(24 * time.Hour),
		DefaultRetention: units.Duration(7 * 365 * 24 * time.Hour),
		Retention:        map[string]units.Duration{},
	}
	c.Access.defaults()
	c.ingestDefaults()
	return c
}

// Validate checks every field once; errors name the field.
func (c *Config) Validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, errors.New("name: empty"))
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("listen: %q is not host:port", c.Listen))
	}
	for i, a := range c.Advertise {
		if _, _, err := net.SplitHostPort(a); err != nil {
			errs = append(errs, fmt.Errorf("advertise[%d]: %q is not host:port", i, a))
		}
	}
	if c.Store == "" {
		errs = append(errs, errors.New("store: empty"))
	} else if strings.HasPrefix(c.Store, "s3://") {
		if _, err := store.ParseS3URL(c.Store); err != nil {
			errs = append(errs, fmt.Errorf("store: %w", err))
		}
	}
	if c.Index == "" {
		errs = append(errs, errors.New("index: empty"))
	}
	if c.CertLifetime < units.Duration(time.Hour) {
		errs = append(errs, fmt.Errorf("cert_lifetime: %s is shorter than an hour", time.Duration(c.CertLifetime)))
	}
	if c.RenewAfterExpiry < 0 {
		errs = append(errs, errors.New("renew_after_expiry: negative"))
	}
	if c.MaxClockSkew <= 0 {
		errs = append(errs, errors.New("max_clock_skew: must be positive"))
	}
	if c.DefaultRetention <= 0 {
		errs = append(errs, errors.New("default_retention: must be positive"))
	}
	errs = append(errs, c.validateIngest()...)
	ac := &c.Access
	if ac.IdleTimeout < units.Duration(time.Minute) {
		errs = append(errs, errors.New("access.idle_timeout: shorter than a minute"))
	}
	if ac.SessionLifetime < ac.IdleTimeout {
		errs = append(errs, errors.New("access.session_lifetime: shorter than access.idle_timeout"))
	}
	if ac.InsiderMaxPlays < 1 {
		errs = append(errs, errors.New("access.insider_max_plays: must be at least 1"))
	}
	if ac.InsiderWindow <= 0 {
		errs = append(errs, errors.New("access.insider_window: must be positive"))
	}
	if _, err := ac.Hours(); err != nil {
		errs = append(errs, fmt.Errorf("access.working_hours, working_days, time_zone: %w", err))
	}
	if ac.PublicURL != "" {
		if err := checkPublicURL(ac.PublicURL); err != nil {
			errs = append(errs, fmt.Errorf("access.public_url: %w", err))
		}
	}
	if ac.AlertWebhook != "" && !strings.HasPrefix(ac.AlertWebhook, "https://") && !strings.HasPrefix(ac.AlertWebhook, "http://127.0.0.1") && !strings.HasPrefix(ac.AlertWebhook, "http://localhost") {
		errs = append(errs, fmt.Errorf("access.alert_webhook: %q: use https:// (plain http only to this machine)", ac.AlertWebhook))
	}
	if ac.AlertEmail != "" {
		if _, _, err := net.SplitHostPort(ac.SMTP); err != nil {
			errs = append(errs, fmt.Errorf("access.smtp: %q is not host:port (needed for access.alert_email)", ac.SMTP))
		}
		if ac.SMTPFrom == "" {
			errs = append(errs, errors.New("access.smtp_from: empty (needed for access.alert_email)"))
		}
	}
	if ac.FleetSilentAfter <= 0 || ac.FleetCertWarn <= 0 || ac.MaxLinkTTL <= 0 {
		errs = append(errs, errors.New("access.fleet_silent_after, fleet_cert_warn, max_link_ttl: must be positive"))
	}
	errs = append(errs, ac.validateSearch()...)
	if ac.PlaybackCacheMiB < 1 {
		errs = append(errs, errors.New("access.playback_cache_mib: must be at least 1"))
	}
	for k, v := range c.Retention {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("retention.%s: must be positive", k))
		}
	}
	if err := c.Enroll.validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func loadConfig(dir string) (Config, error) {
	var c Config
	md, err := toml.DecodeFile(filepath.Join(dir, configFile), &c)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return c, fmt.Errorf("archive: %s holds no archive (no %s; run spanvault-archive init)", dir, configFile)
		}
		return c, fmt.Errorf("archive: %s: %w", configFile, err)
	}
	if u := md.Undecoded(); len(u) > 0 {
		return c, fmt.Errorf("archive: %s: %s: unknown field", configFile, u[0])
	}
	c.Access.defaults()
	c.ingestDefaults()
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("archive: %s: %w", configFile, err)
	}
	return c, nil
}

// indexPath is what index.Open takes: a URL as it is, a file under dir.
func (c Config) indexPath(dir string) string {
	if strings.HasPrefix(c.Index, "postgres://") || strings.HasPrefix(c.Index, "postgresql://") {
		return c.Index
	}
	return filepath.Join(dir, c.Index)
}

func (c Config) retentionOf(class string) time.Duration {
	if d, ok := c.Retention[class]; ok {
		return time.Duration(d)
	}
	return time.Duration(c.DefaultRetention)
}

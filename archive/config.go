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
	"github.com/spanvault/spanvault/vault/retention"
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
	CertLifetime     retention.Duration `toml:"cert_lifetime"`
	RenewAfterExpiry retention.Duration `toml:"renew_after_expiry"`
	// MaxClockSkew: a box whose clock differs more is told so and alerted.
	MaxClockSkew retention.Duration `toml:"max_clock_skew"`
	// PartialTTL: partial uploads idle longer than this are removed.
	PartialTTL retention.Duration `toml:"partial_ttl"`
	// Retention per class at the archive (from the call's start);
	// classes not listed keep DefaultRetention.
	DefaultRetention retention.Duration            `toml:"default_retention"`
	Retention        map[string]retention.Duration `toml:"retention"`
	// LegalRetention lists the classes a law requires to be kept (MiFID
	// II, for instance): locked in COMPLIANCE mode, and an erasure request
	// is refused until the date (GDPR Art. 17(3)(b)). Other classes are
	// GOVERNANCE: the bank's own retention, which erasure overrides.
	LegalRetention []string `toml:"legal_retention"`
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
	return Config{
		Name:             name,
		Listen:           listen,
		Store:            "store",
		Index:            "index.db",
		CertLifetime:     retention.Duration(30 * 24 * time.Hour),
		RenewAfterExpiry: retention.Duration(60 * 24 * time.Hour),
		MaxClockSkew:     retention.Duration(2 * time.Minute),
		PartialTTL:       retention.Duration(7 * 24 * time.Hour),
		DefaultRetention: retention.Duration(7 * 365 * 24 * time.Hour),
		Retention:        map[string]retention.Duration{},
	}
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
	if c.CertLifetime < retention.Duration(time.Hour) {
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
	for k, v := range c.Retention {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("retention.%s: must be positive", k))
		}
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

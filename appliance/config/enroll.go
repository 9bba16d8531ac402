package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/spanvault/spanvault/vault/retention"
)

// Enroll is zero-touch enrollment: what an image built for an archive
// carries instead of a [sync] section. On first boot the box makes its
// keys in Dir, asks the archive for its certificates (TLS pinned to
// CAFingerprint) and shows its enrollment code until an admin approves
// it; the approval's [sync] section is then kept in Dir
// (EnrolledFile) and used from then on, also after a restart. A [sync]
// section in the configuration takes precedence (manual enrollment).
type Enroll struct {
	Archives      []string `toml:"archives"`       // host:port, tried in order
	CAFingerprint string   `toml:"ca_fingerprint"` // "sha256:HEX" of the archive's CA certificate
	// Dir keeps the keys and certificates (default /perm/spanvault/enroll).
	Dir string `toml:"dir"`
	// PollEvery is how often a pending box asks again (default 30s).
	PollEvery retention.Duration `toml:"poll_every"`
	// Hosts are IP addresses for the API certificate (the archive issues
	// it for the box's name and these, none of the archive's own).
	Hosts []string `toml:"hosts"`
}

// EnrolledFile is the [sync] section an approved enrollment wrote into
// Enroll.Dir (sync/client.EnrolledFile).
const EnrolledFile = "enrolled.toml"

// Configured reports whether zero-touch enrollment is set up.
func (e *Enroll) Configured() bool { return len(e.Archives) > 0 }

func (e *Enroll) validate() error {
	if !e.Configured() {
		return nil
	}
	for i, a := range e.Archives {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return fmt.Errorf("config: enroll.archives[%d]: %q is not host:port", i, a)
		}
	}
	fp := strings.TrimPrefix(strings.ToLower(e.CAFingerprint), "sha256:")
	if b, err := hex.DecodeString(fp); err != nil || len(b) != 32 {
		return errors.New("config: enroll.ca_fingerprint: not sha256:HEX (spanvault-archive ca-fingerprint prints it)")
	}
	if e.Dir == "" {
		return errors.New("config: enroll.dir: empty")
	}
	if e.PollEvery != 0 && e.PollEvery < retention.Duration(time.Second) {
		return errors.New("config: enroll.poll_every: below 1s")
	}
	return nil
}

// LoadEnrolled fills the [sync] section from an approved enrollment kept
// in enroll.dir, when the configuration has none. It reports whether it
// did.
func (c *Config) LoadEnrolled() (bool, error) {
	if c.Sync.Configured() || !c.Enroll.Configured() {
		return false, nil
	}
	b, err := os.ReadFile(filepath.Join(c.Enroll.Dir, EnrolledFile))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("config: enrollment: %w", err)
	}
	var s struct {
		Sync Sync `toml:"sync"`
	}
	md, err := toml.Decode(string(b), &s)
	if err != nil {
		return false, fmt.Errorf("config: %s: %w", EnrolledFile, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return false, fmt.Errorf("config: %s: %s: unknown field", EnrolledFile, und[0].String())
	}
	if !s.Sync.Configured() {
		return false, fmt.Errorf("config: %s: no archives", EnrolledFile)
	}
	if err := s.Sync.validate(); err != nil {
		return false, err
	}
	c.Sync = s.Sync
	return true, nil
}

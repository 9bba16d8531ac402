package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/BurntSushi/toml"

	"github.com/spanvault/spanvault/record"
	"github.com/spanvault/spanvault/vault/retention"
)

// DefaultPath is where gokrazy's persistent partition keeps it.
const DefaultPath = "/perm/spanvault/spanvault.toml"

// Config is the whole configuration.
type Config struct {
	Vault     Vault            `toml:"vault"`
	Capture   Capture          `toml:"capture"`
	Retention retention.Policy `toml:"retention"`
	Status    Status           `toml:"status"`
	API       API              `toml:"api"`
	LED       LED              `toml:"led"`
	Alerts    Alerts           `toml:"alerts"`
	Clock     Clock            `toml:"clock"`
	Sync      Sync             `toml:"sync"`
	Enroll    Enroll           `toml:"enroll"`
	Log       Log              `toml:"log"`
	Update    Update           `toml:"update"`
}

// Vault configures storage.
type Vault struct {
	Dir        string  `toml:"dir"`
	Recipients string  `toml:"recipients"` // file of age recipients, one per line
	Quota      Size    `toml:"quota"`      // 0: the file system's size
	HighWater  float64 `toml:"high_water"`
	LowWater   float64 `toml:"low_water"`
	MinFree    Size    `toml:"min_free"`
	// SweepEvery is how often retention runs.
	SweepEvery retention.Duration `toml:"sweep_every"`
	// Unanswered dialogs a minute (per source address, per dialled
	// number, overall) beyond which they are counted per hour instead of
	// recorded one by one, whatever their parties; 0 takes the defaults
	// (120, 20, 300). Overall bounds the index's growth under any flood.
	UnansweredPerSource    int `toml:"unanswered_per_source"`
	UnansweredPerExtension int `toml:"unanswered_per_extension"`
	UnansweredPerMinute    int `toml:"unanswered_per_minute"`
}

// Capture configures live capture and call tracking.
type Capture struct {
	// Interface to capture on; empty picks the interface that carries no
	// IP address (the mirror port).
	Interface     string             `toml:"interface"`
	Fanout        int                `toml:"fanout"` // sockets in the fanout group; 0: one per core
	BlockSize     Size               `toml:"block_size"`
	Blocks        int                `toml:"blocks"`
	MediaTimeout  retention.Duration `toml:"media_timeout"`
	DialogTimeout retention.Duration `toml:"dialog_timeout"`
	DedupWindow   retention.Duration `toml:"dedup_window"`
	LocalNets     []string           `toml:"local_nets"`
	Extensions    []string           `toml:"extensions"`
	NoSIPWarning  retention.Duration `toml:"no_sip_warning"`
	// MemoryBudget bounds what packets can make the capture state grow to
	// (dialogs, SIP held before media, fragments, SIP over TCP): divided
	// among them, each shedding attack state first (see capture.Budget).
	// The rings (blocks x block_size per socket) are on top of it.
	MemoryBudget Size `toml:"memory_budget"`
	// Nice is the daemon's scheduling priority (every thread): -10 by
	// default, so that on a busy box capture is scheduled before anything
	// else and its rings do not overflow while it waits; 0 leaves it.
	Nice int `toml:"nice"`
	// MaxUnexplainedPackets bounds the RTP packets stored per call from
	// sources its signalling does not explain (spoofed RTP sprayed at a
	// call's ports): beyond it they are counted, not stored; 0 stores
	// none (nor the first packets of a NAT'd party's media, before the
	// box takes its unknown address as the party's). 32 by default, at
	// most 4096.
	MaxUnexplainedPackets int `toml:"max_unexplained_packets"`
	// PhoneRegion ("DE") is how a number without its country code is
	// read, for the canonical form the archive searches (record.NumberForms).
	PhoneRegion string `toml:"phone_region"`
}

// Status configures the local web status page.
type Status struct {
	Listen string `toml:"listen"`
	// MaxConns and MaxConnsPerIP bound the page's connections (defaults
	// 256 and 32): idle connections cannot use up the descriptors that
	// recording needs, nor one source lock others out.
	MaxConns      int `toml:"max_conns"`
	MaxConnsPerIP int `toml:"max_conns_per_ip"`
}

// API configures the local API for agent desktops and the CRM.
type API struct {
	// Listen is the API's HTTPS address (default ":8443"). The API never
	// answers in clear: tokens and numbers do not cross the branch LAN
	// unencrypted.
	Listen string `toml:"listen"`
	// Cert and Key: the API's certificate; empty: the one enrollment
	// issued (sync.api_cert), else a self-signed one made at first start
	// in the vault directory, whose fingerprint the page and log show.
	Cert   string  `toml:"cert"`
	Key    string  `toml:"key"`
	Tokens []Token `toml:"token"`
}

// Token is one API credential. Only its SHA-256 is configured, so the file
// holds no secret.
type Token struct {
	Name   string `toml:"name"`
	Role   string `toml:"role"` // agent, supervisor, admin, dpo
	SHA256 string `toml:"sha256"`
	// Extensions bind an agent token to its own extensions and a
	// supervisor's to its group (patterns like capture.extensions: digits,
	// 'x' for any digit, a trailing '*'). An agent or supervisor token
	// acts only on calls one of whose parties matches, and looks calls up
	// only by such an extension or a Call-ID, never by a customer's
	// number. Without extensions an agent or supervisor token may do
	// nothing.
	Extensions []string `toml:"extensions"`
}

// LED configures the board LED.
type LED struct {
	Root string `toml:"root"` // /sys/class/leds
	Name string `toml:"name"` // ACT, led0, ...; empty: the first one found
}

// Alerts configures notification of the data-protection officer.
type Alerts struct {
	// Hook is a command run with the alert as JSON on standard input.
	Hook string `toml:"hook"`
}

// Clock configures the trust placed in the system clock.
type Clock struct {
	// RequireSync: retention deletes nothing and recordings are flagged
	// until the clock is synchronised (gokrazy: /etc/... NTP).
	RequireSync bool `toml:"require_sync"`
}

// Sync configures the nightly upload to the central archive; without
// archives it is not configured. spanvault-archive enroll writes this
// section (sync.toml).
type Sync struct {
	Name      string   `toml:"name"`       // the box's name in its certificate
	Archives  []string `toml:"archives"`   // host:port, tried in order (failover)
	Cert      string   `toml:"cert"`       // client certificate (PEM)
	Key       string   `toml:"key"`        // its key (PEM, 0600)
	CA        string   `toml:"ca"`         // the archive's CA certificate
	AnchorKey string   `toml:"anchor_key"` // the archive's checkpoint verifier key
	APICert   string   `toml:"api_cert"`   // the local API's certificate, issued at enrollment
	APIKey    string   `toml:"api_key"`
	// PolicyKey is the archive's policy signing key (policy.pub): central
	// policies it signed are applied (without it every one is refused).
	PolicyKey string `toml:"policy_key"`
	// UpdateKey is the archive's update signing key (update.pub):
	// firmware updates it signed are installed (without it every one is
	// refused).
	UpdateKey string `toml:"update_key"`
	// Window is the nightly upload window in local time, "01:00-05:00".
	Window string `toml:"window"`
	// Rate caps upload bandwidth ("1MB" per second); 0: no cap.
	Rate Size `toml:"rate"`
	// CheckInEvery is the interval of the small check-in outside the window.
	CheckInEvery retention.Duration `toml:"check_in_every"`
}

// Configured reports whether sync has an archive.
func (s *Sync) Configured() bool { return len(s.Archives) > 0 }

// ParseWindow reads "HH:MM-HH:MM" into minutes after midnight.
func ParseWindow(w string) (from, to int, err error) {
	var h1, m1, h2, m2 int
	if _, err := fmt.Sscanf(w, "%d:%d-%d:%d", &h1, &m1, &h2, &m2); err != nil || h1 > 23 || h2 > 24 || m1 > 59 || m2 > 59 || h1 < 0 || h2 < 0 || m1 < 0 || m2 < 0 {
		return 0, 0, fmt.Errorf("%q is not a window like 01:00-05:00", w)
	}
	return h1*60 + m1, h2*60 + m2, nil
}

// Log configures logging.
type Log struct {
	Level string `toml:"level"` // debug, info, warn, error
}

// Size is a byte count that reads "20GB", "512MiB", "1048576".
type Size int64

// UnmarshalText parses sizes with SI (KB, MB, GB, TB) and IEC (KiB, MiB,
// GiB, TiB) units.
func (s *Size) UnmarshalText(b []byte) error {
	v, err := ParseSize(string(b))
	if err != nil {
		return err
	}
	*s = Size(v)
	return nil
}

// ParseSize parses a size.
func ParseSize(str string) (int64, error) {
	str = strings.TrimSpace(str)
	units := []struct {
		s string
		m int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}
	for _, u := range units {
		if strings.HasSuffix(str, u.s) {
			n, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(str, u.s)), 64)
			if err != nil || n < 0 {
				return 0, fmt.Errorf("bad size %q", str)
			}
			return int64(n * float64(u.m)), nil
		}
	}
	n, err := strconv.ParseInt(str, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad size %q", str)
	}
	return n, nil
}

// Default returns the configuration used where the file leaves a field
// out.
func Default() *Config {
	return &Config{
		Vault: Vault{Dir: "/perm/spanvault/vault", Recipients: "/perm/spanvault/recipients.txt",
			HighWater: 0.90, LowWater: 0.80, MinFree: 256 << 20, SweepEvery: retention.Duration(time.Hour)},
		Capture: Capture{Blocks: 256, BlockSize: 256 << 10,
			MediaTimeout: retention.Duration(60 * time.Second), DialogTimeout: retention.Duration(180 * time.Second),
			DedupWindow: retention.Duration(5 * time.Millisecond), NoSIPWarning: retention.Duration(15 * time.Minute), MemoryBudget: 256 << 20, Nice: -10,
			MaxUnexplainedPackets: 32},
		Retention: *retention.DefaultPolicy(),
		Status:    Status{Listen: ":8080", MaxConns: 256, MaxConnsPerIP: 32},
		API:       API{Listen: ":8443"},
		LED:       LED{Root: "/sys/class/leds"},
		Clock:     Clock{RequireSync: true},
		Log:       Log{Level: "info"},
		Enroll:    Enroll{Dir: "/perm/spanvault/enroll"},
		Update:    DefaultUpdate(),
	}
}

// Load reads, fills defaults into, and validates a configuration file.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(b, filepath.Dir(path))
}

// Parse parses configuration text; relative file paths in it are taken
// relative to dir.
func Parse(b []byte, dir string) (*Config, error) {
	c := Default()
	// Classes and rules replace the defaults wholesale when given.
	c.Retention = retention.Policy{}
	md, err := toml.Decode(string(b), c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			if pe.LastKey != "" {
				return nil, fmt.Errorf("config: line %d: %s: %s", pe.Position.Line, pe.LastKey, pe.Message)
			}
			return nil, fmt.Errorf("config: line %d: %s", pe.Position.Line, pe.Message)
		}
		return nil, fmt.Errorf("config: %w", err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, fmt.Errorf("config: %s: unknown field", und[0].String())
	}
	if len(c.Retention.Classes) == 0 {
		def := retention.DefaultPolicy()
		c.Retention.Classes = def.Classes
		if c.Retention.DefaultClass == "" {
			c.Retention.DefaultClass = def.DefaultClass
		}
	}
	for _, p := range []*string{&c.Vault.Dir, &c.Vault.Recipients, &c.LED.Root, &c.Sync.Cert, &c.Sync.Key, &c.Sync.CA, &c.Sync.AnchorKey, &c.Sync.APICert, &c.Sync.APIKey, &c.Sync.PolicyKey, &c.API.Cert, &c.API.Key, &c.Enroll.Dir,
		&c.Sync.UpdateKey, &c.Update.Dir, &c.Update.Firmware, &c.Update.InstallerDir, &c.Update.GokrazyPassword} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Validate checks every field; the error names the first bad one.
func (c *Config) Validate() error {
	if c.Vault.Dir == "" {
		return errors.New("config: vault.dir: empty")
	}
	if c.Vault.Recipients == "" {
		return errors.New("config: vault.recipients: empty (the file of age recipients that recordings are sealed to)")
	}
	if c.Vault.HighWater <= 0 || c.Vault.HighWater > 1 {
		return fmt.Errorf("config: vault.high_water: %v is outside (0, 1]", c.Vault.HighWater)
	}
	if c.Vault.LowWater <= 0 || c.Vault.LowWater >= c.Vault.HighWater {
		return fmt.Errorf("config: vault.low_water: %v must be above 0 and below high_water %v", c.Vault.LowWater, c.Vault.HighWater)
	}
	if c.Vault.UnansweredPerSource < 0 || c.Vault.UnansweredPerExtension < 0 || c.Vault.UnansweredPerMinute < 0 {
		return errors.New("config: vault.unanswered_*: negative")
	}
	if c.Vault.Quota < 0 {
		return errors.New("config: vault.quota: negative")
	}
	if c.Vault.SweepEvery < retention.Duration(time.Minute) {
		return errors.New("config: vault.sweep_every: below one minute")
	}
	if c.Capture.Fanout < 0 || c.Capture.Fanout > 64 {
		return fmt.Errorf("config: capture.fanout: %d is outside 0..64", c.Capture.Fanout)
	}
	if c.Capture.MemoryBudget < 16<<20 {
		return fmt.Errorf("config: capture.memory_budget: %d bytes (need at least 16 MiB)", c.Capture.MemoryBudget)
	}
	if c.Capture.MaxUnexplainedPackets < 0 || c.Capture.MaxUnexplainedPackets > 4096 {
		return fmt.Errorf("config: capture.max_unexplained_packets: %d is outside 0..4096", c.Capture.MaxUnexplainedPackets)
	}
	if c.Capture.Nice < -20 || c.Capture.Nice > 19 {
		return fmt.Errorf("config: capture.nice: %d is outside -20..19", c.Capture.Nice)
	}
	if c.Capture.Blocks < 2 {
		return fmt.Errorf("config: capture.blocks: %d (need at least 2)", c.Capture.Blocks)
	}
	if c.Capture.BlockSize < 64<<10 || c.Capture.BlockSize&(c.Capture.BlockSize-1) != 0 {
		return fmt.Errorf("config: capture.block_size: %d is not a power of two of at least 64KiB", c.Capture.BlockSize)
	}
	if c.Capture.MediaTimeout < retention.Duration(5*time.Second) {
		return errors.New("config: capture.media_timeout: below 5s")
	}
	if c.Capture.DialogTimeout < retention.Duration(5*time.Second) {
		return errors.New("config: capture.dialog_timeout: below 5s")
	}
	for i, n := range c.Capture.LocalNets {
		if _, err := netip.ParsePrefix(n); err != nil {
			return fmt.Errorf("config: capture.local_nets[%d]: %q is not a prefix like 10.0.0.0/8", i, n)
		}
	}
	if err := record.CheckRegion(c.Capture.PhoneRegion); err != nil {
		return fmt.Errorf("config: capture.phone_region: %w", err)
	}
	for i, e := range c.Capture.Extensions {
		if e == "" || strings.ContainsAny(e, " \t") {
			return fmt.Errorf("config: capture.extensions[%d]: %q is not a dial pattern", i, e)
		}
	}
	if c.Status.MaxConns < 1 || c.Status.MaxConns > 65536 {
		return fmt.Errorf("config: status.max_conns: %d is outside 1..65536", c.Status.MaxConns)
	}
	if c.Status.MaxConnsPerIP < 1 || c.Status.MaxConnsPerIP > c.Status.MaxConns {
		return fmt.Errorf("config: status.max_conns_per_ip: %d is outside 1..max_conns", c.Status.MaxConnsPerIP)
	}
	if err := c.Sync.validate(); err != nil {
		return err
	}
	if err := c.Enroll.validate(); err != nil {
		return err
	}
	if err := c.Update.validate(); err != nil {
		return err
	}
	if err := c.Retention.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if c.Status.Listen != "" {
		if _, err := netip.ParseAddrPort(normalizeListen(c.Status.Listen)); err != nil {
			return fmt.Errorf("config: status.listen: %q is not host:port", c.Status.Listen)
		}
	}
	if _, err := netip.ParseAddrPort(normalizeListen(c.API.Listen)); err != nil {
		return fmt.Errorf("config: api.listen: %q is not host:port", c.API.Listen)
	}
	if (c.API.Cert == "") != (c.API.Key == "") {
		return errors.New("config: api.cert and api.key: give both or neither")
	}
	names := map[string]bool{}
	for i, t := range c.API.Tokens {
		if t.Name == "" {
			return fmt.Errorf("config: api.token[%d].name: empty", i)
		}
		if names[t.Name] {
			return fmt.Errorf("config: api.token[%d].name: %q defined twice", i, t.Name)
		}
		names[t.Name] = true
		switch t.Role {
		case "agent", "supervisor", "admin", "dpo":
		default:
			return fmt.Errorf("config: api.token[%d].role: %q is not agent, supervisor, admin or dpo", i, t.Role)
		}
		if b, err := hex.DecodeString(t.SHA256); err != nil || len(b) != sha256.Size {
			return fmt.Errorf("config: api.token[%d].sha256: not 64 hex digits (configure the SHA-256 of the token, never the token)", i)
		}
		for j, e := range t.Extensions {
			if e == "" || strings.ContainsAny(e, " \t") {
				return fmt.Errorf("config: api.token[%d].extensions[%d]: %q is not a dial pattern", i, j, e)
			}
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("config: log.level: %q is not debug, info, warn or error", c.Log.Level)
	}
	return nil
}

func normalizeListen(s string) string {
	if strings.HasPrefix(s, ":") {
		return "0.0.0.0" + s
	}
	return s
}

// LocalPrefixes returns capture.local_nets parsed.
func (c *Config) LocalPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, n := range c.Capture.LocalNets {
		if p, err := netip.ParsePrefix(n); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// ReadRecipients reads an age recipients file (as age -R reads it).
func ReadRecipients(path string) ([]age.Recipient, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("recipients: %w", err)
	}
	defer f.Close()
	rs, err := age.ParseRecipients(f)
	if err != nil {
		return nil, fmt.Errorf("recipients %s: %w", path, err)
	}
	return rs, nil
}

// ReadIdentities reads an age identity file. A file readable by others is
// refused: an identity decrypts every recording.
func ReadIdentities(path string) ([]age.Identity, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("identity %s: mode %o lets others read it; chmod 600 it", path, st.Mode().Perm())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	defer f.Close()
	ids, err := age.ParseIdentities(f)
	if err != nil {
		return nil, fmt.Errorf("identity %s: %w", path, err)
	}
	return ids, nil
}

func (s *Sync) validate() error {
	if !s.Configured() {
		return nil
	}
	if s.Name == "" {
		return errors.New("config: sync.name: empty (the name in the box's certificate)")
	}
	for i, a := range s.Archives {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return fmt.Errorf("config: sync.archives[%d]: %q is not host:port", i, a)
		}
	}
	for _, f := range []struct{ name, v string }{{"cert", s.Cert}, {"key", s.Key}, {"ca", s.CA}} {
		if f.v == "" {
			return fmt.Errorf("config: sync.%s: empty", f.name)
		}
	}
	if s.Window != "" {
		if _, _, err := ParseWindow(s.Window); err != nil {
			return fmt.Errorf("config: sync.window: %v", err)
		}
	}
	if s.Rate < 0 {
		return errors.New("config: sync.rate: negative")
	}
	if s.CheckInEvery != 0 && s.CheckInEvery < retention.Duration(10*time.Second) {
		return errors.New("config: sync.check_in_every: below 10s")
	}
	return nil
}

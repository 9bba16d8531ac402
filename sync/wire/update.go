package wire

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Firmware updates (sync/doc.go, Updates). `make image` builds an update:
// the root file system (squashfs) and the boot partition (FAT) of the
// image, described by an UpdateManifest that the archive's update key
// signs (a key of its own, not the policy key: whoever may change a
// retention class may not thereby run code on every box). The archive
// offers an update to a box in its check-in reply (UpdateOffer) when a
// rollout's wave includes the box; the box downloads both files inside
// its sync window under its rate cap (GET /sync/v1/update/{serial}/root
// and /boot, resumable with Range), and installs only a manifest that
//
//   - verifies under the update key it pinned (at enrollment, or
//     sync.update_key),
//   - names a Serial above the one it runs (never a downgrade, never the
//     same build twice), and the box's architecture,
//   - and whose files hash to the manifest's digests.
//
// It writes the inactive root partition and the boot partition through
// gokrazy's update mechanism and test-boots it (gokrazy's
// try_boot_inactive: the next boot runs the new root once; the one after
// returns to the old unless the new one switched for good). The new
// firmware switches for good once it has checked in healthy (recording,
// syncing); one that has not within ConfirmWithin reboots into the old
// root, which reports UpdateState "rolled-back" with UpdateFailure.

// updateContext is signed before the manifest: an update signature can be
// taken for nothing else.
const updateContext = "spanvault update v1\n"

// MaxUpdateFile bounds each file of an update (gokrazy's root partition
// is 500 MB, its boot partition 100 MB).
const MaxUpdateFile = 512 << 20

// UpdateFile names one file of an update.
type UpdateFile struct {
	Size   int64  `json:"size"`
	SHA256 []byte `json:"sha256"`
}

// UpdateManifest describes one firmware build.
type UpdateManifest struct {
	// Serial orders builds: a box installs only a serial above the one it
	// runs. It is unique across the archive's updates.
	Serial uint64 `json:"serial"`
	// Version is the build's human name (e.g. "2026.12.06-1").
	Version string    `json:"version"`
	Built   time.Time `json:"built"`
	// Arch is GOARCH of the build ("arm64").
	Arch string     `json:"arch"`
	Root UpdateFile `json:"root"`
	Boot UpdateFile `json:"boot"`
}

// SignedUpdate is a manifest as the update key signed it: Manifest is the
// JSON of an UpdateManifest, Sig Ed25519 over updateContext || Manifest.
type SignedUpdate struct {
	Manifest []byte `json:"manifest"`
	Sig      []byte `json:"sig"`
}

// UpdateOffer is the archive's offer of an update in a check-in reply.
type UpdateOffer struct {
	// Rollout identifies the rollout (and so the wave) offering it.
	Rollout int64        `json:"rollout"`
	Update  SignedUpdate `json:"update"`
	// ConfirmWithin is how long the new firmware has, from its boot, to
	// check in healthy before it reboots into the old one.
	ConfirmWithin Duration `json:"confirm_within"`
}

// Update states a box reports (Health.UpdateState).
const (
	UpdateIdle        = ""            // nothing in progress
	UpdateDownloading = "downloading" // files being fetched (resumable)
	UpdateWritten     = "written"     // on the inactive partition, reboot next
	UpdateTrying      = "trying"      // running the new firmware, not yet confirmed
	UpdateConfirmed   = "confirmed"   // the new firmware switched for good
	UpdateRolledBack  = "rolled-back" // the new firmware did not confirm; the old runs
	UpdateRefused     = "refused"     // the offer failed verification (UpdateFailure says why)
)

// Duration is a time.Duration written as Go's duration string ("20m").
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return fmt.Errorf("duration %q", s)
	}
	*d = Duration(v)
	return nil
}

var updateVersionRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$`)

// Validate checks a manifest's fields.
func (m *UpdateManifest) Validate() error {
	if m.Serial == 0 {
		return errors.New("update: serial 0")
	}
	if !updateVersionRe.MatchString(m.Version) {
		return fmt.Errorf("update: version %q", m.Version)
	}
	if m.Arch == "" || len(m.Arch) > 16 || strings.ContainsAny(m.Arch, " \t\r\n/") {
		return fmt.Errorf("update: arch %q", m.Arch)
	}
	for name, f := range map[string]UpdateFile{"root": m.Root, "boot": m.Boot} {
		if f.Size <= 0 || f.Size > MaxUpdateFile {
			return fmt.Errorf("update: %s size %d outside 1..%d", name, f.Size, MaxUpdateFile)
		}
		if len(f.SHA256) != 32 {
			return fmt.Errorf("update: %s sha256 of %d bytes", name, len(f.SHA256))
		}
	}
	return nil
}

// SignUpdate validates and signs a manifest.
func SignUpdate(key ed25519.PrivateKey, m UpdateManifest) (SignedUpdate, error) {
	if err := m.Validate(); err != nil {
		return SignedUpdate{}, err
	}
	doc, sig, err := signJSON(key, updateContext, m)
	if err != nil {
		return SignedUpdate{}, err
	}
	return SignedUpdate{Manifest: doc, Sig: sig}, nil
}

// Errors of VerifyUpdate.
var (
	ErrUpdateUnsigned = errors.New("update: not signed by the pinned update key")
	ErrUpdateNoKey    = errors.New("update: no update key pinned on this box")
)

// VerifyUpdate checks a signed manifest against the pinned key and decodes
// and validates it (strictly: unknown fields are refused). Serial and
// architecture against the running build are the caller's to check.
func VerifyUpdate(pub ed25519.PublicKey, s SignedUpdate) (*UpdateManifest, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, ErrUpdateNoKey
	}
	var m UpdateManifest
	switch err := verifyJSON(pub, updateContext, s.Manifest, s.Sig, 4096, &m); {
	case errors.Is(err, errSignature):
		return nil, ErrUpdateUnsigned
	case errors.Is(err, errTrailing):
		return nil, errors.New("update: trailing data")
	case err != nil:
		return nil, fmt.Errorf("update: malformed manifest: %w", err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// ParseUpdateKey reads an update public key (base64, as update.pub holds
// it).
func ParseUpdateKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, errors.New("update key: not a base64 Ed25519 public key")
	}
	return ed25519.PublicKey(b), nil
}

package wire

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Central policy (sync/doc.go, Policy). The archive holds each box's
// policy as a signed, versioned document, for the box ("box:NAME") or for
// a group of boxes ("group:NAME"); it sends the one in force in its
// check-in reply when it is newer than what the box reported applying.
// The box verifies the signature with the policy key it pinned (received
// at enrollment, or configured), refuses a version that does not move
// forward, validates the settings with its own configuration's
// validation, applies them and reports the version at its next check-in
// (PolicyReport), or the refusal and why.

// MaxPolicyConfig bounds a policy's configuration text.
const MaxPolicyConfig = 64 << 10

// policyContext is signed before the document: a policy signature can be
// taken for nothing else.
const policyContext = "spanvault policy v1\n"

// PolicyDoc is one version of a policy.
type PolicyDoc struct {
	// Target is "box:NAME" or "group:NAME".
	Target string `json:"target"`
	// Version is unique across the archive's policies and grows with each
	// one set: a box applies only a version above the one it applied.
	Version uint64    `json:"version"`
	Issued  time.Time `json:"issued"`
	By      string    `json:"by"`
	// Config is a fragment of the box's configuration in its own syntax
	// (TOML), of the sections a policy may set: [retention] (classes,
	// rules, default_class), [capture] extensions, [sync] window and
	// rate. What it leaves out stays as the box has it.
	Config string `json:"config"`
	// LegalRetention names classes a law requires to be kept: the box
	// keeps them until the archive holds them (must_sync, never evicted
	// unsynced).
	LegalRetention []string `json:"legal_retention,omitempty"`
}

// SignedPolicy is a policy document as the archive signed it: Doc is the
// JSON of a PolicyDoc, Sig Ed25519 over policyContext || Doc.
type SignedPolicy struct {
	Doc []byte `json:"doc"`
	Sig []byte `json:"sig"`
}

// PolicyReport is what a box says of its policy at check-in.
type PolicyReport struct {
	// Applied is the version in force on the box (0: none yet).
	Applied uint64 `json:"applied"`
	// Refused is the last version the box refused, and Reason why.
	Refused uint64 `json:"refused,omitempty"`
	Reason  string `json:"reason,omitempty"`
	// Restart lists the settings of the applied policy that take effect
	// at the box's next start.
	Restart []string `json:"restart,omitempty"`
}

var targetRe = regexp.MustCompile(`^(box|group):[a-z0-9][a-z0-9.-]{0,62}$`)

// ValidPolicyTarget reports whether s is "box:NAME" or "group:NAME".
func ValidPolicyTarget(s string) bool { return targetRe.MatchString(s) }

// Validate checks a document's fields (the settings themselves are the
// box's to validate).
func (d *PolicyDoc) Validate() error {
	if !ValidPolicyTarget(d.Target) {
		return fmt.Errorf("policy: target %q is not box:NAME or group:NAME", d.Target)
	}
	if d.Version == 0 {
		return errors.New("policy: version 0")
	}
	if len(d.Config) > MaxPolicyConfig {
		return fmt.Errorf("policy: config larger than %d bytes", MaxPolicyConfig)
	}
	if len(d.By) > 256 {
		return errors.New("policy: by: too long")
	}
	if len(d.LegalRetention) > 64 {
		return errors.New("policy: more than 64 legal_retention classes")
	}
	for _, c := range d.LegalRetention {
		if c == "" || len(c) > 64 || strings.ContainsAny(c, " \t\r\n") {
			return fmt.Errorf("policy: legal_retention class %q", c)
		}
	}
	return nil
}

// SignPolicy validates and signs a document.
func SignPolicy(key ed25519.PrivateKey, d PolicyDoc) (SignedPolicy, error) {
	if err := d.Validate(); err != nil {
		return SignedPolicy{}, err
	}
	doc, sig, err := signJSON(key, policyContext, d)
	if err != nil {
		return SignedPolicy{}, err
	}
	return SignedPolicy{Doc: doc, Sig: sig}, nil
}

// Errors of VerifyPolicy.
var (
	ErrPolicyUnsigned = errors.New("policy: not signed by the pinned policy key")
	ErrPolicyNoKey    = errors.New("policy: no policy key pinned on this box")
)

// VerifyPolicy checks a signed policy against the pinned key and decodes
// and validates the document (strictly: unknown fields are refused).
func VerifyPolicy(pub ed25519.PublicKey, s SignedPolicy) (*PolicyDoc, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, ErrPolicyNoKey
	}
	var d PolicyDoc
	switch err := verifyJSON(pub, policyContext, s.Doc, s.Sig, 2*MaxPolicyConfig, &d); {
	case errors.Is(err, errSignature):
		return nil, ErrPolicyUnsigned
	case errors.Is(err, errTrailing):
		return nil, errors.New("policy: trailing data")
	case err != nil:
		return nil, fmt.Errorf("policy: malformed document: %w", err)
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return &d, nil
}

// ParsePolicyKey reads a policy public key (base64, as policy.pub holds it).
func ParsePolicyKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, errors.New("policy: key is not a base64 Ed25519 public key")
	}
	return ed25519.PublicKey(b), nil
}

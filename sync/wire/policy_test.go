package wire_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/sync/wire"
)

// frozenSeed is the policy key of the frozen vector (a test key only).
var frozenSeed = bytes.Repeat([]byte{7}, ed25519.SeedSize)

func frozenDoc() wire.PolicyDoc {
	return wire.PolicyDoc{Target: "group:branches", Version: 3, Issued: time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC), By: "admin",
		Config:         "[retention]\ndefault_class = \"default\"\n[[retention.class]]\nname = \"default\"\nrecord = true\nmax_age = \"30d\"\n[sync]\nwindow = \"02:00-04:00\"\nrate = \"2MB\"\n",
		LegalRetention: []string{"mifid"}}
}

// TestFrozenPolicy: a policy the archive of 2026-12-06 signed
// (testdata/policy/v1.json, written once, never regenerated) still
// verifies and decodes on the box: a box in the field keeps accepting its
// archive's policies after either is upgraded. SPANVAULT_WRITE_FROZEN=1
// writes the vector when it is missing.
func TestFrozenPolicy(t *testing.T) {
	const path = "testdata/policy/v1.json"
	key := ed25519.NewKeyFromSeed(frozenSeed)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && os.Getenv("SPANVAULT_WRITE_FROZEN") == "1" {
		sp, err := wire.SignPolicy(key, frozenDoc())
		if err != nil {
			t.Fatal(err)
		}
		b, _ = json.MarshalIndent(sp, "", "  ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	} else if err != nil {
		t.Fatal(err)
	}
	var sp wire.SignedPolicy
	if err := wire.Decode(bytes.NewReader(b), &sp); err != nil {
		t.Fatal(err)
	}
	d, err := wire.VerifyPolicy(key.Public().(ed25519.PublicKey), sp)
	if err != nil {
		t.Fatalf("the policy of 2026-12-06 no longer verifies: %v", err)
	}
	want := frozenDoc()
	if d.Target != want.Target || d.Version != want.Version || d.Config != want.Config || !d.Issued.Equal(want.Issued) || strings.Join(d.LegalRetention, ",") != "mifid" {
		t.Fatalf("decoded %+v", d)
	}
}

// TestPolicyRefusals: a document signed by another key, altered after
// signing, or signed for another purpose is refused.
func TestPolicyRefusals(t *testing.T) {
	key := ed25519.NewKeyFromSeed(frozenSeed)
	pub := key.Public().(ed25519.PublicKey)
	sp, err := wire.SignPolicy(key, frozenDoc())
	if err != nil {
		t.Fatal(err)
	}
	_, other, _ := ed25519.GenerateKey(nil)
	forged, _ := wire.SignPolicy(other, frozenDoc())
	altered := wire.SignedPolicy{Doc: bytes.Replace(sp.Doc, []byte("30d"), []byte("1d"), 1), Sig: sp.Sig}
	bare := wire.SignedPolicy{Doc: sp.Doc, Sig: ed25519.Sign(key, sp.Doc)} // without the context
	for name, s := range map[string]wire.SignedPolicy{"forged": forged, "altered": altered, "no context": bare, "unsigned": {Doc: sp.Doc}} {
		if _, err := wire.VerifyPolicy(pub, s); !errors.Is(err, wire.ErrPolicyUnsigned) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := wire.VerifyPolicy(nil, sp); !errors.Is(err, wire.ErrPolicyNoKey) {
		t.Errorf("no key: %v", err)
	}
	if _, err := wire.SignPolicy(key, wire.PolicyDoc{Target: "box:Bad Name", Version: 1}); err == nil {
		t.Error("a bad target signed")
	}
}

// TestEnrollCode: codes are 16 Crockford characters, the same for the
// same key, and read back as people type them.
func TestEnrollCode(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(nil)
	c, err := wire.EnrollCode(pub)
	if err != nil || len(strings.ReplaceAll(c, "-", "")) != wire.EnrollCodeLen || wire.NormalizeCode(c) != c {
		t.Fatalf("%q %v", c, err)
	}
	if c2, _ := wire.EnrollCode(pub); c2 != c {
		t.Fatal("not deterministic")
	}
	if wire.NormalizeCode(strings.ToLower(strings.ReplaceAll(c, "-", " "))) != c {
		t.Fatal("typed form not read")
	}
	for _, bad := range []string{"", c[:18], c + "0", "UUUU-UUUU-UUUU-UUUU"} {
		if wire.NormalizeCode(bad) != "" {
			t.Errorf("%q read as a code", bad)
		}
	}
}

// A policy and an enrollment request from anyone verify, decode and
// validate without panicking, whatever the bytes.
func FuzzPolicy(f *testing.F) {
	key := ed25519.NewKeyFromSeed(frozenSeed)
	sp, _ := wire.SignPolicy(key, frozenDoc())
	b, _ := json.Marshal(sp)
	f.Add(b)
	if v, err := os.ReadFile("testdata/policy/v1.json"); err == nil {
		f.Add(v)
	}
	e, _ := json.Marshal(wire.EnrollRequest{CSR: []byte{1}, APICSR: []byte{2}, Hosts: []string{"a"}})
	f.Add(e)
	pub := key.Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, b []byte) {
		var s wire.SignedPolicy
		if wire.Decode(bytes.NewReader(b), &s) == nil {
			if d, err := wire.VerifyPolicy(pub, s); err == nil {
				if _, err := wire.SignPolicy(key, *d); err != nil {
					t.Fatalf("a verified document does not sign again: %v", err)
				}
			}
			// The signed bytes themselves, as if signed by the key.
			wire.VerifyPolicy(pub, wire.SignedPolicy{Doc: b, Sig: ed25519.Sign(key, append([]byte("spanvault policy v1\n"), b...))})
		}
		var r wire.EnrollRequest
		if wire.Decode(bytes.NewReader(b), &r) == nil {
			r.Validate()
		}
		wire.NormalizeCode(string(b))
	})
}

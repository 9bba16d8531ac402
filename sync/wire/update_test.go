package wire_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/sync/wire"
)

func frozenManifest() wire.UpdateManifest {
	r := sha256.Sum256([]byte("root"))
	b := sha256.Sum256([]byte("boot"))
	return wire.UpdateManifest{
		Serial: 7, Version: "2026.12.06-1", Built: time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC), Arch: "arm64",
		Root: wire.UpdateFile{Size: 4, SHA256: r[:]}, Boot: wire.UpdateFile{Size: 4, SHA256: b[:]},
	}
}

func TestUpdateSignVerify(t *testing.T) {
	key := ed25519.NewKeyFromSeed(frozenSeed)
	pub := key.Public().(ed25519.PublicKey)
	su, err := wire.SignUpdate(key, frozenManifest())
	if err != nil {
		t.Fatal(err)
	}
	m, err := wire.VerifyUpdate(pub, su)
	if err != nil || m.Serial != 7 || m.Arch != "arm64" {
		t.Fatalf("verify: %+v %v", m, err)
	}
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))
	// A policy signature over the same bytes is not an update signature.
	policySig := ed25519.Sign(key, append([]byte("spanvault policy v1\n"), su.Manifest...))
	bad := []struct {
		name string
		pub  ed25519.PublicKey
		s    wire.SignedUpdate
		want error
	}{
		{"no key", nil, su, wire.ErrUpdateNoKey},
		{"other key", other.Public().(ed25519.PublicKey), su, wire.ErrUpdateUnsigned},
		{"policy context", pub, wire.SignedUpdate{Manifest: su.Manifest, Sig: policySig}, wire.ErrUpdateUnsigned},
		{"changed byte", pub, wire.SignedUpdate{Manifest: bytes.Replace(su.Manifest, []byte(`"serial":7`), []byte(`"serial":8`), 1), Sig: su.Sig}, wire.ErrUpdateUnsigned},
		{"short sig", pub, wire.SignedUpdate{Manifest: su.Manifest, Sig: su.Sig[:10]}, wire.ErrUpdateUnsigned},
	}
	for _, c := range bad {
		if _, err := wire.VerifyUpdate(c.pub, c.s); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// Signed but invalid or carrying unknown fields.
	for name, doc := range map[string]string{
		"serial 0":      `{"serial":0,"version":"v","arch":"arm64","root":{"size":1,"sha256":"` + strings.Repeat("A", 43) + `="},"boot":{"size":1,"sha256":"` + strings.Repeat("A", 43) + `="}}`,
		"unknown field": strings.Replace(string(su.Manifest), `"serial"`, `"evil":1,"serial"`, 1),
		"trailing":      string(su.Manifest) + `{}`,
	} {
		s := wire.SignedUpdate{Manifest: []byte(doc), Sig: ed25519.Sign(key, append([]byte("spanvault update v1\n"), doc...))}
		if _, err := wire.VerifyUpdate(pub, s); err == nil {
			t.Errorf("%s: verified", name)
		}
	}
}

func TestUpdateManifestValidate(t *testing.T) {
	for name, mod := range map[string]func(*wire.UpdateManifest){
		"version with space": func(m *wire.UpdateManifest) { m.Version = "1 2" },
		"no arch":            func(m *wire.UpdateManifest) { m.Arch = "" },
		"root too big":       func(m *wire.UpdateManifest) { m.Root.Size = wire.MaxUpdateFile + 1 },
		"boot empty":         func(m *wire.UpdateManifest) { m.Boot.Size = 0 },
		"short hash":         func(m *wire.UpdateManifest) { m.Root.SHA256 = m.Root.SHA256[:31] },
	} {
		m := frozenManifest()
		mod(&m)
		if err := m.Validate(); err == nil {
			t.Errorf("%s: valid", name)
		}
	}
}

func TestDurationJSON(t *testing.T) {
	o := wire.UpdateOffer{Rollout: 3, ConfirmWithin: wire.Duration(20 * time.Minute)}
	b, _ := json.Marshal(o)
	if !bytes.Contains(b, []byte(`"confirm_within":"20m0s"`)) {
		t.Fatalf("%s", b)
	}
	var back wire.UpdateOffer
	if err := json.Unmarshal(b, &back); err != nil || back.ConfirmWithin != o.ConfirmWithin {
		t.Fatalf("%+v %v", back, err)
	}
	if err := json.Unmarshal([]byte(`{"confirm_within":"-1s"}`), &back); err == nil {
		t.Fatal("negative duration accepted")
	}
}

func FuzzUpdate(f *testing.F) {
	key := ed25519.NewKeyFromSeed(frozenSeed)
	su, _ := wire.SignUpdate(key, frozenManifest())
	b, _ := json.Marshal(wire.UpdateOffer{Rollout: 1, Update: su, ConfirmWithin: wire.Duration(time.Minute)})
	f.Add(b)
	pub := key.Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, b []byte) {
		var o wire.UpdateOffer
		if wire.Decode(bytes.NewReader(b), &o) == nil {
			if m, err := wire.VerifyUpdate(pub, o.Update); err == nil {
				if _, err := wire.SignUpdate(key, *m); err != nil {
					t.Fatalf("a verified manifest does not sign again: %v", err)
				}
			}
		}
		s := wire.SignedUpdate{Manifest: b, Sig: ed25519.Sign(key, append([]byte("spanvault update v1\n"), b...))}
		if m, err := wire.VerifyUpdate(pub, s); err == nil {
			if err := m.Validate(); err != nil {
				t.Fatalf("verified yet invalid: %v", err)
			}
		}
	})
}

package archive_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/sync/wire"
)

// FuzzReadUpdateDir: whatever update.json holds, reading it never panics,
// and nothing but a manifest the key signed verifies.
func FuzzReadUpdateDir(f *testing.F) {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	m := wire.UpdateManifest{Serial: 9, Version: "v9", Built: time.Unix(1, 0).UTC(), Arch: "arm64",
		Root: wire.UpdateFile{Size: 1, SHA256: make([]byte, 32)}, Boot: wire.UpdateFile{Size: 1, SHA256: make([]byte, 32)}}
	su, _ := wire.SignUpdate(key, m)
	good, _ := json.Marshal(su)
	f.Add(good)
	f.Add([]byte(`{"manifest":"e30=","sig":""}`))
	f.Add([]byte(`{"manifest":null,"sig":null,"x":1}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, archive.UpdateManifestFile), b, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := archive.ReadUpdateDir(dir)
		if err != nil {
			return
		}
		got, err := wire.VerifyUpdate(pub, s)
		if err == nil && (got.Serial != 9 || string(s.Manifest) != string(su.Manifest)) {
			t.Fatalf("a manifest the key did not sign verified: %s", s.Manifest)
		}
		if err != nil && !errors.Is(err, wire.ErrUpdateUnsigned) && string(s.Manifest) != string(su.Manifest) {
			// Only a signed manifest gets as far as decoding.
			t.Fatalf("unsigned manifest decoded: %v", err)
		}
	})
}

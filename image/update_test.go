package image_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spanvault/spanvault/image"
	"github.com/spanvault/spanvault/sync/wire"
)

// TestWriteUpdate: the update directory holds the partitions' bytes and a
// manifest the archive's update key signed over their digests; without a
// key only an unsigned manifest, and never a stale signed one beside new
// files; the key file must be private.
func TestWriteUpdate(t *testing.T) {
	dir := t.TempDir()
	root, boot := filepath.Join(dir, "x.root.squashfs"), filepath.Join(dir, "x.boot.fat")
	os.WriteFile(root, []byte("root bytes"), 0o644)
	os.WriteFile(boot, []byte("boot bytes"), 0o644)
	sum := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	res := &image.Result{Root: root, Boot: boot, RootSHA256: sum("root bytes"), RootSize: 10, BootSHA256: sum("boot bytes"), BootSize: 10,
		Serial: 7, Version: "2026.12.06-1", Built: time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)}

	pub, priv, _ := ed25519.GenerateKey(nil)
	keyFile := filepath.Join(dir, "update.key")
	os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString(priv.Seed())+"\n"), 0o644)
	if _, err := image.LoadUpdateKey(keyFile); err == nil {
		t.Fatal("a world-readable update key was accepted")
	}
	os.Chmod(keyFile, 0o600)
	key, err := image.LoadUpdateKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	upd := filepath.Join(dir, "x.update")
	p, err := image.WriteUpdate(res, upd, key)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(p) != image.UpdateManifestFile {
		t.Fatalf("signed manifest at %s", p)
	}
	b, _ := os.ReadFile(p)
	var s wire.SignedUpdate
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	m, err := wire.VerifyUpdate(pub, s)
	if err != nil {
		t.Fatal(err)
	}
	if m.Serial != 7 || m.Version != "2026.12.06-1" || m.Arch != "arm64" || hex.EncodeToString(m.Root.SHA256) != res.RootSHA256 || m.Boot.Size != 10 {
		t.Fatalf("manifest %+v", m)
	}
	for _, f := range []string{image.UpdateManifestFile, image.UpdateRootFile, image.UpdateBootFile} {
		st, err := os.Stat(filepath.Join(upd, f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", f, st.Mode(), err)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(upd, image.UpdateRootFile)); string(got) != "root bytes" {
		t.Fatalf("root.squashfs %q", got)
	}

	// Rebuilt without a key: the signed manifest of the old files goes.
	os.WriteFile(root, []byte("new root bytes"), 0o644)
	res.RootSHA256, res.RootSize, res.Serial = sum("new root bytes"), 14, 8
	p, err = image.WriteUpdate(res, upd, nil)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(p) != image.UnsignedManifestFile {
		t.Fatalf("unsigned manifest at %s", p)
	}
	if _, err := os.Stat(filepath.Join(upd, image.UpdateManifestFile)); !os.IsNotExist(err) {
		t.Fatalf("the old signed manifest is still beside the new files: %v", err)
	}
	var um wire.UpdateManifest
	b, _ = os.ReadFile(p)
	if err := json.Unmarshal(b, &um); err != nil || um.Serial != 8 || um.Root.Size != 14 {
		t.Fatalf("unsigned manifest %s: %v", b, err)
	}
}

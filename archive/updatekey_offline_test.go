package archive_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/sync/client"
	"github.com/spanvault/spanvault/sync/wire"
)

// TestUpdateKeyOffline: the operator moves update.key off the archive.
// Enrolling a box then hands it the same public key (update.pub), no new
// update.key appears on the archive, and publish still takes an update
// the offline key signed (and refuses another key's). With neither the
// key nor update.pub, the archive says so and makes no key. (Old code:
// the next enrollment made a new update.key on the online archive and
// pinned it on the new box.)
func TestUpdateKeyOffline(t *testing.T) {
	e := newUpdEnv(t, nil)
	ctx := context.Background()
	keyPath := filepath.Join(e.dir, archive.UpdateKeyFile)
	offline, err := archive.ReadUpdateKey(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := e.a.UpdatePublicKey()
	if err := os.Remove(keyPath); err != nil { // moved to offline media
		t.Fatal(err)
	}
	r, err := e.a.Enroll(ctx, "branch-new", filepath.Join(t.TempDir(), "branch-new"), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(r.Dir, client.UpdateKeyFile))
	pinned, _ := wire.ParseUpdateKey(string(b))
	if !pinned.Equal(offline.Public()) {
		t.Errorf("a box enrolled after the update key went offline pins %q, not the offline key's %s", strings.TrimSpace(string(b)), want)
	}
	if _, err := os.Stat(keyPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s is on the archive again after the operator moved it offline: %v", archive.UpdateKeyFile, err)
	}
	if _, err := e.a.Publish(ctx, e.build(offline, 5, "v5"), "ops"); err != nil {
		t.Errorf("publish of an update the offline key signed: %v", err)
	}
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := e.a.Publish(ctx, e.build(other, 6, "v6"), "ops"); !errors.Is(err, archive.ErrUpdateSignature) {
		t.Errorf("publish of an update another key signed: %v", err)
	}

	// Neither the key nor its public half: an error, no key made.
	if err := os.Remove(filepath.Join(e.dir, archive.UpdatePubFile)); err != nil {
		t.Fatal(err)
	}
	if k, err := e.a.UpdatePublicKey(); err == nil || !strings.Contains(err.Error(), "never makes a new update key") {
		t.Errorf("no update key at all: %q, %v", k, err)
	}
	if _, err := os.Stat(keyPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s made anew: %v", archive.UpdateKeyFile, err)
	}
}

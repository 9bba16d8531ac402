package archive_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/spanvault/spanvault/archive"
)

// TestInitMakesErasureKey: init makes the erasure-note signing key, 0600,
// so that every front-end copied from the directory signs and checks the
// notes with the same key.
func TestInitMakesErasureKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "archive")
	if err := archive.Init(dir, archive.InitOptions{Name: "keys", Listen: "127.0.0.1:0"}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "erasure.key"))
	if err != nil {
		t.Fatalf("init made no erasure key: %v", err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Errorf("erasure.key mode %o, want 600", m)
	}
}

package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/archive/keyring"
)

// enroll refuses an enrolled name; enroll -replace needs a reason and is
// refused (two admins replace a box: approve -replace); revoke says what
// it revoked; serve -web refuses an identity
// the index was not keyed with, naming both.
func TestEnrollReplaceRevokeAndKeyCheck(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "archive")
	if _, e, code := run(t, "init", "-dir", dir, "-listen", "127.0.0.1:0"); code != 0 {
		t.Fatalf("init: %s", e)
	}
	box := func() string { return filepath.Join(t.TempDir(), "box") }
	if _, e, code := run(t, "enroll", "-dir", dir, "-name", "branch-1", "-o", box()); code != 0 {
		t.Fatalf("enroll: %s", e)
	}
	if _, e, code := run(t, "enroll", "-dir", dir, "-name", "branch-1", "-o", box()); code == 0 || !strings.Contains(e, "approve -replace") {
		t.Fatalf("second enroll: %d %s", code, e)
	}
	if _, e, code := run(t, "enroll", "-dir", dir, "-name", "branch-1", "-o", box(), "-replace"); code == 0 || !strings.Contains(e, "-reason") {
		t.Fatalf("replace without a reason: %d %s", code, e)
	}
	// A replacement takes two admins (approve -replace), never one run.
	if _, e, code := run(t, "enroll", "-dir", dir, "-name", "branch-1", "-o", box(), "-replace", "-reason", "stolen, new box"); code == 0 || !strings.Contains(e, "approve -replace") {
		t.Fatalf("replace at enroll: %d %s", code, e)
	}
	if o, e, code := run(t, "revoke", "-dir", dir, "-name", "branch-1", "-reason", "stolen"); code != 0 || !strings.Contains(o, "revoked branch-1") {
		t.Fatalf("revoke: %d %s %s", code, o, e)
	}
	if o, _, _ := run(t, "events", "-dir", dir); !strings.Contains(o, `"kind":"revoke","actor":"bootstrap`) {
		t.Fatalf("the revocation of an archive without accounts: %s", o)
	}

	// The key check: stored by the first start with the archive's identity.
	mine, _ := age.GenerateX25519Identity()
	other, _ := age.GenerateX25519Identity()
	k, _ := keyring.Parse([]byte(mine.String()))
	a, err := archive.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := access.New(a, k).CheckKeys(context.Background()); err != nil {
		t.Fatal(err)
	}
	a.Close()
	idFile := filepath.Join(t.TempDir(), "identity")
	os.WriteFile(idFile, []byte(other.String()+"\n"), 0o600)
	_, e, code := run(t, "serve", "-dir", dir, "-listen", "127.0.0.1:0", "-web", "127.0.0.1:0", "-identity", idFile)
	if code == 0 || !strings.Contains(e, "not this archive's identity") || !strings.Contains(e, idFile) || !strings.Contains(e, mine.Recipient().String()) {
		t.Fatalf("serve with another identity: %d %s", code, e)
	}
}

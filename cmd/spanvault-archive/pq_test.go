package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/spanvault/spanvault/archive/access"
)

// TestInitHybridIdentityAndReseal (issue 25): init -identity writes a
// hybrid post-quantum identity (0600) and prints its age1pq1 recipient;
// verify reports the classical-only count; reseal wants a hybrid identity
// and says what it did.
func TestInitHybridIdentityAndReseal(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "archive")
	idFile := filepath.Join(t.TempDir(), "identity.txt")
	out, e, code := run(t, "init", "-dir", dir, "-listen", "127.0.0.1:0", "-identity", idFile)
	if code != 0 || !strings.Contains(out, "recipient: age1pq1") {
		t.Fatalf("init -identity: %d %q %s", code, out, e)
	}
	fi, err := os.Stat(idFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("identity file: %v %v", fi, err)
	}
	b, _ := os.ReadFile(idFile)
	ids, err := age.ParseIdentities(strings.NewReader(string(b)))
	if err != nil || len(ids) != 1 {
		t.Fatal(ids, err)
	}
	if _, ok := ids[0].(*age.HybridIdentity); !ok {
		t.Fatalf("init made a %T", ids[0])
	}
	if o, e, code := run(t, "verify", "-dir", dir); code != 0 || !strings.Contains(o, "0 classical-only (X25519) recordings") {
		t.Fatalf("verify: %q %s", o, e)
	}
	op := cliEnvAt(t, dir, map[string]cliUser{"otto": {role: access.Admin}})
	if _, se, c := run(t, "reseal", "-dir", dir, "-identity", idFile); c == 0 || !strings.Contains(se, "-by") {
		t.Fatalf("reseal without -by: %d %s", c, se)
	}
	x, _ := age.GenerateX25519Identity()
	xFile := filepath.Join(t.TempDir(), "x25519.txt")
	os.WriteFile(xFile, []byte(x.String()+"\n"), 0o600)
	if _, e, code := op.as("otto", "reseal", "-identity", xFile); code == 0 || !strings.Contains(e, "no hybrid identity") {
		t.Fatalf("reseal with an X25519 identity only: %d %s", code, e)
	}
	both := filepath.Join(t.TempDir(), "both.txt")
	os.WriteFile(both, []byte(x.String()+"\n"+string(b)), 0o600)
	if o, e, code := op.as("otto", "reseal", "-identity", both); code != 0 || !strings.Contains(o, "0 recordings re-sealed") || !strings.Contains(o, "0 classical-only remain") {
		t.Fatalf("reseal: %d %q %s", code, o, e)
	}
}

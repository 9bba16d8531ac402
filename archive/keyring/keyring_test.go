package keyring_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/spanvault/spanvault/archive/keyring"
)

func TestLoad(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	loose := filepath.Join(dir, "loose")
	os.WriteFile(good, []byte(id.String()+"\n"), 0o600)
	os.WriteFile(loose, []byte(id.String()+"\n"), 0o644)
	os.Chmod(loose, 0o644)
	k, err := keyring.Load(good)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keyring.Load(loose); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a world-readable identity was accepted: %v", err)
	}
	t.Setenv(keyring.EnvVar, id.String())
	k2, err := keyring.Load("")
	if err != nil {
		t.Fatal(err)
	}
	if k.Term("number", "+49301") != k2.Term("number", "+49301") {
		t.Fatal("the same identity gave different blind terms")
	}
	if k.Term("number", "+49301") == k.Term("ext", "+49301") || k.Term("number", "+49301") == k.Term("number", "+49302") {
		t.Fatal("blind terms collide")
	}
	other, _ := age.GenerateX25519Identity()
	k3, _ := keyring.Parse([]byte(other.String()))
	if k3.Term("number", "+49301") == k.Term("number", "+49301") {
		t.Fatal("another identity gave the same blind term")
	}
	for _, s := range []string{k.String(), fmt.Sprintf("%v %+v %#v", k, k, k)} {
		if strings.Contains(s, "AGE-SECRET") || !strings.Contains(s, "redacted") {
			t.Fatalf("keyring printed itself: %s", s)
		}
	}
	if !k.Verify("m", k.Sign("m")) || k.Verify("m2", k.Sign("m")) {
		t.Fatal("link signatures")
	}
}

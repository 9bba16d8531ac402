package keyfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRoundTripAndModes(t *testing.T) {
	dir := t.TempDir()
	k, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	kp := filepath.Join(dir, "box.key")
	if err := WriteKey(kp, k); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(kp); fi.Mode().Perm() != 0o600 {
		t.Fatalf("key mode %v, want 0600", fi.Mode().Perm())
	}
	back, err := ReadKey(kp)
	if err != nil {
		t.Fatal(err)
	}
	if !k.PublicKey.Equal(back.Public()) {
		t.Fatal("key read back differs")
	}
	if _, err := os.Stat(kp + ".tmp"); !os.IsNotExist(err) {
		t.Fatal("temporary file left behind")
	}
	for _, bad := range []struct{ name, content string }{
		{"empty", ""},
		{"not pem", "hello"},
		{"cert as key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"},
	} {
		p := filepath.Join(dir, "bad")
		os.WriteFile(p, []byte(bad.content), 0o600)
		if _, err := ReadKey(p); err == nil {
			t.Errorf("%s: ReadKey accepted it", bad.name)
		}
		if _, err := ReadCert(p); err == nil {
			t.Errorf("%s: ReadCert accepted it", bad.name)
		}
	}
}

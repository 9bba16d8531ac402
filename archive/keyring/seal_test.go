package keyring_test

import (
	"bytes"
	"testing"

	"filippo.io/age"

	"github.com/spanvault/spanvault/archive/keyring"
)

// TestSeal: a sealed secret opens for its purpose and owner only, and
// only with the identity it was sealed under.
func TestSeal(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	k, err := keyring.Parse([]byte(id.String()))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := k.Seal("totp", []byte("JBSWY3DPEHPK3PXP"), []byte("ada"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("JBSWY3DPEHPK3PXP")) {
		t.Fatal("sealed in clear")
	}
	if p, err := k.Unseal("totp", sealed, []byte("ada")); err != nil || string(p) != "JBSWY3DPEHPK3PXP" {
		t.Fatalf("unseal: %q %v", p, err)
	}
	other, _ := age.GenerateX25519Identity()
	k2, _ := keyring.Parse([]byte(other.String()))
	for what, f := range map[string]func() ([]byte, error){
		"another owner":    func() ([]byte, error) { return k.Unseal("totp", sealed, []byte("bob")) },
		"another purpose":  func() ([]byte, error) { return k.Unseal("links", sealed, []byte("ada")) },
		"another identity": func() ([]byte, error) { return k2.Unseal("totp", sealed, []byte("ada")) },
		"truncated":        func() ([]byte, error) { return k.Unseal("totp", sealed[:10], []byte("ada")) },
	} {
		if _, err := f(); err == nil {
			t.Errorf("%s opened it", what)
		}
	}
}

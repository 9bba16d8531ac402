package keyring_test

import (
	"fmt"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/spanvault/spanvault/archive/keyring"
)

// The derived keys come from the key material: the age-keygen file (with
// its comments, CRLF line ends) and the bare key line agree; another
// identity differs; the key check names neither key.
func TestKeysFromKeyMaterial(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	line, err := keyring.Parse([]byte(id.String()))
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{
		fmt.Sprintf("# created: 2026-01-02T03:04:05Z\n# public key: %s\n%s\n", id.Recipient(), id),
		fmt.Sprintf("# created: 2026-01-02T03:04:05Z\r\n# public key: %s\r\n%s\r\n\r\n", id.Recipient(), id),
	} {
		k, err := keyring.Parse([]byte(text))
		if err != nil {
			t.Fatal(err)
		}
		if k.Term("number", "+49301") != line.Term("number", "+49301") || k.Sign("m") != line.Sign("m") || k.Check() != line.Check() {
			t.Fatalf("the file %q and its key line derive different keys", text)
		}
	}
	if line.Recipient() != id.Recipient().String() {
		t.Fatalf("recipient %s", line.Recipient())
	}
	other, _ := age.GenerateX25519Identity()
	k2, _ := keyring.Parse([]byte(other.String()))
	if k2.Check() == line.Check() || k2.Term("number", "+49301") == line.Term("number", "+49301") {
		t.Fatal("another identity derives the same keys")
	}
	if len(line.Check()) != 32 || strings.Contains(id.String(), line.Check()) {
		t.Fatalf("key check %q", line.Check())
	}
}

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/record/evidence/evidencetest"
)

// TestVerifyEvidenceSaysWhatIsProven: the box's binary checks the frozen
// bundle of 2026-12-06 (record/evidence/testdata) offline, decrypts it
// with the identity, and says in plain words what was proven; a copy
// with one byte of the recording changed fails and names the proof that
// broke.
func TestVerifyEvidenceSaysWhatIsProven(t *testing.T) {
	td := filepath.Join("..", "..", "record", "evidence", "testdata")
	bundle := filepath.Join(td, "bundle-v1.svev")
	// A checkout leaves the identity readable by others, which the
	// command refuses: it reads a private copy.
	idb, err := os.ReadFile(filepath.Join(td, "identity-v1.txt"))
	if err != nil {
		t.Fatal(err)
	}
	identity := filepath.Join(t.TempDir(), "identity.txt")
	if err := os.WriteFile(identity, idb, 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCLI(t, "verify-evidence", bundle, "-identity", identity, "-log-key", filepath.Join(td, "log-v1.vkey"), "-box-key", filepath.Join(td, "box-v1.pub"))
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	for _, want := range []string{
		"proven: The checkpoint is signed by the archive's log key test-archive",
		"proven: The coverage ledger of branch-1 for ",
		"is signed by the box's audit key (fingerprint 9c945ccfabc92543)",
		"the SHA-256 the box listed for it in its ledger (status complete)",
		"proven: The recording and its index record",
		"proven: The ledger (sha256",
		"proven: The box's audit chain head at entry",
		"proven: The recording decrypts with the identity and every chunk authenticates",
		"OK: recording ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "unverified") {
		t.Errorf("with every key given, something is unverified:\n%s", out)
	}
	b, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(b), "\nrecording ")
	i += strings.Index(string(b[i+1:]), "\n") + 2 + 500 // a byte inside the sealed recording
	b[i] ^= 0x20
	bad := filepath.Join(t.TempDir(), "bad.svev")
	if err := os.WriteFile(bad, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = runCLI(t, "verify-evidence", bad)
	if code != 1 || !strings.Contains(out, "NOT PROVEN: the recording hash does not hold") || !strings.Contains(out, "the recording was altered") || strings.Contains(out, "OK:") {
		t.Fatalf("altered recording: exit %d:\n%s%s", code, out, errOut)
	}
}

// TestVerifyEvidenceForgedNotOK (finding M1): a bundle forged with keys
// of the forger's own (log signer, box key, self-signed TSA) around a
// recording the box never made is consistent in itself; verify-evidence
// without -log-key does not say OK but UNVERIFIED and exits non-zero, its
// time-stamp is unverified, and with the archive's published log key it
// breaks at the checkpoint.
func TestVerifyEvidenceForgedNotOK(t *testing.T) {
	td := filepath.Join("..", "..", "record", "evidence", "testdata")
	tmpl, err := os.ReadFile(filepath.Join(td, "bundle-v1.svev"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := evidencetest.Forge(tmpl, []byte("a recording the box never made"), time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	forged := filepath.Join(t.TempDir(), "forged.svev")
	if err := os.WriteFile(forged, f.Bundle, 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCLI(t, "verify-evidence", forged)
	if code == 0 || strings.Contains(out, "OK:") || !strings.Contains(out, "UNVERIFIED: no archive log key given") ||
		!strings.Contains(out, "time-stamp unverified (no TSA certificate given)") || strings.Contains(out, "proven: The checkpoint is signed by the archive's log key") {
		t.Fatalf("forged bundle without -log-key: exit %d:\n%s%s", code, out, errOut)
	}
	out, errOut, code = runCLI(t, "verify-evidence", forged, "-log-key", filepath.Join(td, "log-v1.vkey"))
	if code == 0 || strings.Contains(out, "OK:") || !strings.Contains(out, "NOT PROVEN: the checkpoint signature does not hold") {
		t.Fatalf("forged bundle with the archive's log key: exit %d:\n%s%s", code, out, errOut)
	}
	out, errOut, code = runCLI(t, "verify-evidence", forged, "-box-key", filepath.Join(td, "box-v1.pub"))
	if code == 0 || strings.Contains(out, "OK:") || !strings.Contains(out, "NOT PROVEN: the ledger signature does not hold") {
		t.Fatalf("forged bundle with the box's key: exit %d:\n%s%s", code, out, errOut)
	}
}

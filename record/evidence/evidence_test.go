package evidence_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/spanvault/spanvault/record/evidence"
)

// testdata/bundle-v1.svev was written once (2026-12-06) by the archive
// of that day for a recording of a box that sent its coverage ledger
// (sync/client's TestEvidenceBundleVerifiesOfflineAndEveryByteCounts
// with SPANVAULT_WRITE_EVIDENCE_VECTOR=1), with its log key and the
// test identity the recording is sealed to. It is never regenerated: a
// bundle handed to a court in 2026 must verify with every later
// verifier.
func readVector(t *testing.T) ([]byte, string) {
	t.Helper()
	b, err := os.ReadFile("testdata/bundle-v1.svev")
	if err != nil {
		t.Fatal(err)
	}
	k, err := os.ReadFile("testdata/log-v1.vkey")
	if err != nil {
		t.Fatal(err)
	}
	return b, strings.TrimSpace(string(k))
}

// boxKey is the public audit key of the box that made the frozen bundle
// (testdata/box-v1.pub, hex; fingerprint 9c945ccfabc92543...).
func boxKey(t *testing.T) ed25519.PublicKey {
	t.Helper()
	h, err := os.ReadFile("testdata/box-v1.pub")
	if err != nil {
		t.Fatal(err)
	}
	k, err := hex.DecodeString(strings.TrimSpace(string(h)))
	if err != nil || len(k) != ed25519.PublicKeySize {
		t.Fatalf("box-v1.pub: %v", err)
	}
	return k
}

func TestFrozenBundleVerifies(t *testing.T) {
	b, vkey := readVector(t)
	rep, err := evidence.Verify(b, evidence.Options{LogKey: vkey, BoxKey: boxKey(t)})
	if err != nil {
		t.Fatalf("the bundle of 2026-12-06 no longer verifies: %v", err)
	}
	if rep.Appliance != "branch-1" || rep.ID == "" || rep.Item.Status != "complete" || len(rep.Proven) != 6 || len(rep.Unverified) != 0 || !rep.LogKeyChecked || !rep.BoxKeyChecked ||
		!strings.HasPrefix(rep.BoxKey, "9c945ccfabc92543") {
		t.Fatalf("report %+v", rep)
	}
	// Without the box's key the ledger's signer is only the key the
	// bundle names.
	rep, err = evidence.Verify(b, evidence.Options{LogKey: vkey})
	if err != nil || len(rep.Proven) != 5 || len(rep.Unverified) != 1 || rep.BoxKeyChecked {
		t.Fatalf("without the box key: %v %q %q", err, rep.Proven, rep.Unverified)
	}
	f, err := os.Open("testdata/identity-v1.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ids, err := age.ParseIdentities(f)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := evidence.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	c, err := evidence.Decrypt(pb.Recording, ids)
	if err != nil || c.Frames == 0 || !c.Complete || c.Meta == 0 {
		t.Fatalf("decrypting the frozen bundle's recording: %+v %v", c, err)
	}
	// Re-encoding gives the same bytes (the framing is canonical).
	if string(pb.Marshal()) != string(b) {
		t.Fatal("the bundle does not re-encode to its own bytes")
	}
}

func TestBundleRefusesOtherKeysAndFraming(t *testing.T) {
	b, vkey := readVector(t)
	for _, tc := range []struct {
		name  string
		data  []byte
		opt   evidence.Options
		proof string
	}{
		{"another log key", b, evidence.Options{LogKey: strings.Replace(vkey, "+", "x+", 1)}, "checkpoint signature"},
		{"truncated", b[:len(b)-1], evidence.Options{}, "framing"},
		{"trailing byte", append(append([]byte(nil), b...), '\n'), evidence.Options{}, "framing"},
		{"leading zero in a length", []byte(strings.Replace(string(b), "\ncheckpoint ", "\ncheckpoint 0", 1)), evidence.Options{}, "framing"},
		{"another box key", b, evidence.Options{BoxKey: make([]byte, 32)}, "ledger signature"},
		{"stray bits in the signature's base64", strayBits(t, b), evidence.Options{LogKey: vkey}, "checkpoint signature"},
	} {
		_, err := evidence.Verify(tc.data, tc.opt)
		var be *evidence.BrokenError
		if !errors.As(err, &be) || be.Proof != tc.proof {
			t.Errorf("%s: %v, want the %s broken", tc.name, err, tc.proof)
		}
	}
}

// strayBits sets an unused bit of the last base64 character of the
// checkpoint's signature: the same signature, other bytes.
func strayBits(t *testing.T, b []byte) []byte {
	t.Helper()
	at, err := evidence.Sections(b)
	if err != nil {
		t.Fatal(err)
	}
	cp := at["checkpoint"]
	i := bytes.LastIndex(b[cp[0]:cp[1]], []byte("=\n"))
	if i < 1 {
		t.Skip("the checkpoint's signature has no padding")
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	pos := cp[0] + i - 1
	if b[pos] == '=' {
		pos--
	}
	c := slices.Clone(b)
	c[pos] = alphabet[strings.IndexByte(alphabet, c[pos])^1]
	return c
}

package client_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/spanvault/spanvault/record/evidence"
)

// evidenceBundle makes a day of calls, sends its ledger and returns the
// evidence bundle of one recording with the archive's log key.
func (e *env) evidenceBundle(t *testing.T) ([]byte, string, string) {
	t.Helper()
	_, ids := e.ledgerDay(t, 3)
	slices.Sort(ids)
	b, err := e.arch.Evidence(context.Background(), e.box, ids[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	return b, ids[0], e.arch.Log.VerifierKey()
}

// TestEvidenceBundleVerifiesOfflineAndEveryByteCounts (issue 25,
// acceptance 4): a bundle the archive writes for a recording of a box
// that sent its ledger verifies with the verifier alone, and decrypts
// with the archive's identity; changing any byte of it (every byte of
// the framing and of every section but the recording) or of the
// recording inside (its first, middle and last byte and every 997th)
// makes it fail and say which proof broke.
func TestEvidenceBundleVerifiesOfflineAndEveryByteCounts(t *testing.T) {
	e := newEnv(t)
	b, id, vkey := e.evidenceBundle(t)
	rep, err := evidence.Verify(b, evidence.Options{LogKey: vkey})
	if err != nil {
		t.Fatalf("a fresh bundle does not verify: %v (proven so far %q)", err, rep.Proven)
	}
	if rep.ID != id || rep.Appliance != e.box || len(rep.Proven) != 5 || len(rep.Unverified) != 1 { // the ledger's key is not given: unverified
		t.Fatalf("report %+v", rep)
	}
	pb, err := evidence.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	c, err := evidence.Decrypt(pb.Recording, []age.Identity{e.identity})
	if err != nil || c.Frames == 0 || !c.Complete {
		t.Fatalf("decrypting: %+v %v", c, err)
	}
	if os.Getenv("SPANVAULT_WRITE_EVIDENCE_VECTOR") != "" {
		dir := filepath.Join("..", "..", "record", "evidence", "testdata")
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "bundle-v1.svev"), b, 0o644)
		os.WriteFile(filepath.Join(dir, "log-v1.vkey"), []byte(vkey+"\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "identity-v1.txt"), []byte(e.identity.String()+"\n"), 0o600)
	}

	at, err := evidence.Sections(b)
	if err != nil {
		t.Fatal(err)
	}
	// Which proof must break when a byte of each section changes.
	want := map[string]string{
		"checkpoint":       "checkpoint signature",
		"log-key":          "checkpoint signature",
		"recording":        "recording hash",
		"entry":            "",
		"recording-proof":  "recording inclusion",
		"ledger":           "ledger signature",
		"ledger-key":       "ledger signature",
		"ledger-signature": "ledger signature",
		"ledger-proof":     "ledger inclusion",
		"head":             "audit head inclusion",
		"head-proof":       "audit head inclusion",
	}
	flip := func(pos int) *evidence.BrokenError {
		t.Helper()
		c := slices.Clone(b)
		c[pos] ^= 0x01
		_, err := evidence.Verify(c, evidence.Options{LogKey: vkey})
		var be *evidence.BrokenError
		if !errors.As(err, &be) {
			t.Fatalf("byte %d changed: verify says %v", pos, err)
		}
		return be
	}
	checked := 0
	for name, r := range at {
		if r[1] == r[0] {
			continue // the empty timestamp
		}
		positions := []int{r[0], (r[0] + r[1]) / 2, r[1] - 1}
		if name != "recording" {
			positions = positions[:0]
			for pos := r[0]; pos < r[1]; pos++ {
				positions = append(positions, pos)
			}
		}
		for _, pos := range positions {
			be := flip(pos)
			checked++
			switch {
			case name == "entry":
				// An index record's byte breaks its JSON, its stated
				// hash, or (whitespace, any other field) its inclusion.
				if be.Proof != "index record" && be.Proof != "recording inclusion" && be.Proof != "ledger listing" {
					t.Errorf("byte %d of the entry changed: %s broke (%s)", pos-r[0], be.Proof, be.Reason)
				}
			case be.Proof != want[name]:
				t.Errorf("byte %d of section %s changed: %q broke (%s), want %q", pos-r[0], name, be.Proof, be.Reason, want[name])
			}
		}
	}
	// Every byte of the framing: magic and section headers.
	for pos := 0; pos < len(b); pos++ {
		inside := false
		for _, r := range at {
			if pos >= r[0] && pos < r[1] {
				inside = true
				break
			}
		}
		if !inside {
			if be := flip(pos); be.Proof != "framing" {
				t.Errorf("framing byte %d changed: %q broke (%s)", pos, be.Proof, be.Reason)
			}
			checked++
		}
	}
	// Every 997th byte of the recording inside (the sealed file).
	r := at["recording"]
	for pos := r[0]; pos < r[1]; pos += 997 {
		if be := flip(pos); be.Proof != "recording hash" || !strings.Contains(be.Reason, "the recording was altered") {
			t.Errorf("recording byte %d changed: %q broke (%s)", pos-r[0], be.Proof, be.Reason)
		}
		checked++
	}
	t.Logf("%d single-byte changes, each refused with the proof that broke", checked)
}

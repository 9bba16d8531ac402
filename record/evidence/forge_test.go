package evidence_test

import (
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/record/evidence"
	"github.com/spanvault/spanvault/record/evidence/evidencetest"
)

// TestForgedBundleNotProven (finding M1): a bundle forged with keys of
// the forger's own (log signer, box key, self-signed time-stamping
// authority) is consistent in itself, but without the archive's log key
// nothing in it is reported as proven; given the archive's real log key
// or the box's real key it breaks; its time-stamp is unverified without
// a trusted authority's certificate and broken with the real one's.
func TestForgedBundleNotProven(t *testing.T) {
	b, vkey := readVector(t)
	at := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	f, err := evidencetest.Forge(b, []byte("a recording the box never made"), at)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := evidence.Verify(f.Bundle, evidence.Options{CheckTimestamp: evidence.RFC3161(nil)})
	if err != nil {
		t.Fatalf("the forged bundle is consistent in itself: %v", err)
	}
	if rep.LogKeyChecked || rep.BoxKeyChecked {
		t.Fatalf("keys reported as checked: %+v", rep)
	}
	for _, p := range rep.Proven {
		if strings.Contains(p, "archive's log key") || strings.Contains(p, "box's audit key") || strings.Contains(p, "attests") {
			t.Errorf("reported as proven: %q", p)
		}
	}
	all := strings.Join(rep.Unverified, "\n")
	for _, want := range []string{"no archive log key was given", "not compared with the box's published audit key", "time-stamp unverified (no TSA certificate given)"} {
		if !strings.Contains(all, want) {
			t.Errorf("unverified lacks %q:\n%s", want, all)
		}
	}
	if _, err := evidence.Verify(f.Bundle, evidence.Options{LogKey: vkey, CheckTimestamp: evidence.RFC3161(nil)}); !isBroken(err, "checkpoint signature") {
		t.Errorf("with the archive's log key: %v", err)
	}
	real, _ := evidence.Parse(b)
	if _, err := evidence.Verify(f.Bundle, evidence.Options{BoxKey: real.LedgerKey, CheckTimestamp: evidence.RFC3161(nil)}); !isBroken(err, "ledger signature") {
		t.Errorf("with the box's key: %v", err)
	}
	other, _ := evidencetest.Forge(b, []byte("x"), at)
	roots := x509.NewCertPool()
	roots.AddCert(other.TSARoot)
	if _, err := evidence.Verify(f.Bundle, evidence.Options{CheckTimestamp: evidence.RFC3161(roots)}); !isBroken(err, "timestamp") {
		t.Errorf("with a trusted authority's certificate: %v", err)
	}
	// With the forger's own keys it is consistent: what the keys are
	// worth is for the one who gives them.
	roots = x509.NewCertPool()
	roots.AddCert(f.TSARoot)
	rep, err = evidence.Verify(f.Bundle, evidence.Options{LogKey: f.LogKey, BoxKey: f.BoxKey, CheckTimestamp: evidence.RFC3161(roots)})
	if err != nil || !rep.LogKeyChecked || !rep.BoxKeyChecked || len(rep.Unverified) != 0 {
		t.Fatalf("under the forger's keys: %v %q", err, rep.Unverified)
	}
}

func isBroken(err error, proof string) bool {
	be, ok := err.(*evidence.BrokenError)
	return ok && be.Proof == proof
}

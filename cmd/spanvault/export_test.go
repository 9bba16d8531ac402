package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/capture/synth"
)

// Export verifies what it decrypts: a file swapped with another
// recording's is refused, a flipped byte in a middle chunk exports the
// chunks before it and names the damaged one, a truncated file likewise,
// and a refused export never touches an existing file.
func TestExportVerifies(t *testing.T) {
	dir := t.TempDir()
	id, recips := keys(t, dir)
	pcap := filepath.Join(dir, "long.pcap")
	writeCapture(t, pcap, synth.Config{Calls: 2, Duration: 30 * time.Second, Seed: 5}, nil)
	v := filepath.Join(dir, "vault")
	recordPcap(t, v, recips, pcap)
	o, _, _ := runCLI(t, "calls", "-vault", v, "-q")
	ids := strings.Fields(o)
	if len(ids) != 2 {
		t.Fatalf("recordings %v", ids)
	}
	file := func(id string) string { return filepath.Join(v, "rec", id+".age") }
	if _, err := os.Stat(file(ids[0])); err != nil {
		m, _ := filepath.Glob(filepath.Join(v, "rec", "*", ids[0]+"*"))
		if len(m) == 0 {
			t.Fatalf("no file for %s", ids[0])
		}
		file = func(id string) string {
			m, _ := filepath.Glob(filepath.Join(v, "rec", "*", id+".age"))
			if len(m) == 0 {
				m, _ = filepath.Glob(filepath.Join(v, "rec", "*", id+"*"))
			}
			return m[0]
		}
	}
	a, b := file(ids[0]), file(ids[1])
	orig, _ := os.ReadFile(a)
	if len(orig) < 3*65536 {
		t.Fatalf("recording of %d bytes: too short for a middle chunk", len(orig))
	}

	// A refused extension leaves an existing file alone.
	keep := filepath.Join(dir, "notes.txt")
	os.WriteFile(keep, []byte("keep me"), 0o600)
	if _, e, code := runCLI(t, "export", "-vault", v, "-identity", id, "-call", ids[0], "-o", keep); code == 0 || !strings.Contains(e, "must end in .wav or .pcap") {
		t.Fatalf("export to .txt: %d %s", code, e)
	}
	if b, _ := os.ReadFile(keep); string(b) != "keep me" {
		t.Fatal("a refused export truncated an existing file")
	}

	// Swapped: a's file replaced with b's.
	bb, _ := os.ReadFile(b)
	os.WriteFile(a, bb, 0o600)
	if _, e, code := runCLI(t, "export", "-vault", v, "-identity", id, "-call", ids[0], "-o", filepath.Join(dir, "s.pcap")); code == 0 || !strings.Contains(e, "belongs to another recording") || !strings.Contains(e, ids[1]) {
		t.Fatalf("swapped file: %d %s", code, e)
	}

	// One flipped byte in the middle chunk.
	bad := append([]byte(nil), orig...)
	bad[len(bad)/2] ^= 0x40
	os.WriteFile(a, bad, 0o600)
	outPcap := filepath.Join(dir, "d.pcap")
	so, e, code := runCLI(t, "export", "-vault", v, "-identity", id, "-call", ids[0], "-o", outPcap)
	if code == 0 || !strings.Contains(e, "damaged at chunk") || !strings.Contains(so, "DAMAGED at chunk") {
		t.Fatalf("flipped byte: %d %s %s", code, so, e)
	}
	if fi, err := os.Stat(outPcap); err != nil || fi.Size() < 1000 {
		t.Fatalf("the chunks before the damage were not exported: %v", err)
	}

	// Truncated in the middle.
	os.WriteFile(a, orig[:len(orig)/2], 0o600)
	if _, e, code := runCLI(t, "export", "-vault", v, "-identity", id, "-call", ids[0], "-o", filepath.Join(dir, "t.pcap")); code == 0 || !strings.Contains(e, "damaged at chunk") {
		t.Fatalf("truncated file: %d %s", code, e)
	}

	// Restored: exports whole, audited.
	os.WriteFile(a, orig, 0o600)
	if _, e, code := runCLI(t, "export", "-vault", v, "-identity", id, "-call", ids[0], "-o", filepath.Join(dir, "ok.wav")); code != 0 {
		t.Fatalf("intact export: %s", e)
	}

}

// `spanvault hold -subject` works (it failed: "no recipients configured").
func TestHoldSubjectCLI(t *testing.T) {
	_, v, id, _ := setup(t)
	o, e, code := runCLI(t, "hold", "-vault", v, "-subject", "+49305550000", "-identity", id, "-reason", "case 7")
	if code != 0 || !strings.Contains(o, "recordings now held") {
		t.Fatalf("hold -subject: %d %s %s", code, o, e)
	}
}

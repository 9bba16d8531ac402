package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const frozenVault = "testdata/frozen-2026-12-06"

// copyTree copies a test data directory, so that opening it (which may
// write: recovery, the audit trail) never touches the frozen bytes.
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestFrozenVault: a vault the box wrote on 2026-12-06 (see the
// directory's README) lists the same calls, exports the same audio and
// verifies its audit chain with today's code.
func TestFrozenVault(t *testing.T) {
	dir := t.TempDir()
	copyTree(t, frozenVault, dir)
	v, id := filepath.Join(dir, "vault"), filepath.Join(dir, "identity.txt")

	type call struct {
		ID       string   `json:"id"`
		CallID   string   `json:"call_id"`
		From     string   `json:"from"`
		To       string   `json:"to"`
		Duration float64  `json:"duration_s"`
		Recorded bool     `json:"recorded"`
		Codecs   []string `json:"codecs"`
		State    string   `json:"state"`
	}
	var want, got []call
	b, err := os.ReadFile(filepath.Join(frozenVault, "calls.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	out, errs, code := runCLI(t, "calls", "-vault", v, "-identity", id, "-json")
	if code != 0 {
		t.Fatalf("calls: exit %d: %s", code, errs)
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("calls -json: %v", err)
	}
	if len(got) != len(want) || len(want) != 4 {
		t.Fatalf("%d calls listed, the frozen vault has %d (want 4)", len(got), len(want))
	}
	for i := range want {
		if g, w := got[i], want[i]; g.ID != w.ID || g.CallID != w.CallID || g.From != w.From || g.To != w.To ||
			g.Duration != w.Duration || g.Recorded != w.Recorded || strings.Join(g.Codecs, ",") != strings.Join(w.Codecs, ",") || g.State != w.State {
			t.Errorf("call %d: got %+v, frozen %+v", i, g, w)
		}
	}

	sums, err := os.ReadFile(filepath.Join(frozenVault, "wavs.sha256"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(sums)), "\n") {
		sum, rec, _ := strings.Cut(line, "  ")
		wav := filepath.Join(dir, rec+".wav")
		if _, errs, code := runCLI(t, "export", "-vault", v, "-identity", id, "-call", rec, "-o", wav); code != 0 {
			t.Fatalf("export %s: exit %d: %s", rec, code, errs)
		}
		b, err := os.ReadFile(wav)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(b)
		if hex.EncodeToString(h[:]) != sum {
			t.Errorf("export %s: WAV differs from what the code of 2026-12-06 wrote", rec)
		}
	}
	if _, errs, code := runCLI(t, "audit", "verify", "-vault", v); code != 0 {
		t.Fatalf("audit verify: exit %d: %s", code, errs)
	}
	if out, errs, code := runCLI(t, "fsck", "-vault", v); code != 0 {
		t.Fatalf("fsck: exit %d: %s %s", code, out, errs)
	}
}

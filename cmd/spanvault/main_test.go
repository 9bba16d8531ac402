package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/vault"
)

func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(args, &out, &errb)
	return out.String(), errb.String(), code
}

// sample writes a generated capture.
func sample(t *testing.T, path string, calls int) {
	t.Helper()
	writeCapture(t, path, synth.Config{Calls: calls, Duration: 2 * time.Second, Rejected: 1, DTMF: "9"}, nil)
}

func setup(t *testing.T) (dir, vaultDir, id, recips string) {
	t.Helper()
	dir = t.TempDir()
	id, recips = keys(t, dir)
	vaultDir = filepath.Join(dir, "vault")
	pcap := filepath.Join(dir, "s.pcap")
	sample(t, pcap, 2)
	recordPcap(t, vaultDir, recips, pcap)
	return
}

func TestCallsJSON(t *testing.T) {
	_, v, id, _ := setup(t)
	out, _, code := runCLI(t, "calls", "-vault", v, "-json")
	if code != 0 {
		t.Fatal(code)
	}
	var clear []map[string]any
	if err := json.Unmarshal([]byte(out), &clear); err != nil {
		t.Fatal(err)
	}
	if len(clear) != 3 {
		t.Fatalf("%d call records, want 3 (2 answered, 1 rejected)", len(clear))
	}
	for _, c := range clear {
		for _, k := range []string{"call_id", "from", "to"} {
			if _, ok := c[k]; ok {
				t.Fatalf("personal field %s present without the identity", k)
			}
		}
		for _, s := range c["streams"].([]any) {
			sm := s.(map[string]any)
			if _, ok := sm["src"]; ok {
				t.Fatal("stream address present without the identity")
			}
			if ssrc := sm["ssrc"].(string); len(ssrc) != 10 || !strings.HasPrefix(ssrc, "0x") {
				t.Fatalf("ssrc %q", ssrc)
			}
		}
	}
	out, _, code = runCLI(t, "calls", "-vault", v, "-json", "-identity", id)
	var full []map[string]any
	json.Unmarshal([]byte(out), &full)
	recorded := 0
	for _, c := range full {
		if c["call_id"] == nil || c["from"] == nil || c["to"] == nil {
			t.Fatalf("personal fields missing with the identity: %v", c)
		}
		if c["recorded"] == true {
			recorded++
			for _, s := range c["streams"].([]any) {
				sm := s.(map[string]any)
				if sm["src"] == nil || sm["dst"] == nil || sm["packets"].(float64) == 0 {
					t.Fatalf("stream %v", sm)
				}
			}
		} else if c["state"] != "rejected" {
			t.Fatalf("unrecorded call in state %v", c["state"])
		}
	}
	if recorded != 2 || code != 0 {
		t.Fatalf("%d recorded", recorded)
	}
	// Export by SIP Call-ID, as WAV and as pcap.
	callID := ""
	for _, c := range full {
		if c["recorded"] == true {
			callID = c["call_id"].(string)
		}
	}
	dir := t.TempDir()
	for _, ext := range []string{".wav", ".pcap"} {
		out, errs, code := runCLI(t, "export", "-vault", v, "-identity", id, "-call", callID, "-o", filepath.Join(dir, "x"+ext))
		if code != 0 {
			t.Fatalf("export %s: %s %s", ext, out, errs)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "x.wav"))
	if len(b) < 44+3*8000*4/2 || string(b[:4]) != "RIFF" {
		t.Fatalf("WAV of %d bytes", len(b))
	}
}

// TestClearErrors: wrong key, missing vault, locked vault, corrupt index,
// bad configuration: clear messages, no panic.
func TestClearErrors(t *testing.T) {
	dir, v, _, _ := setup(t)
	other := filepath.Join(dir, "other.txt")
	runCLI(t, "keygen", "-o", other)
	es := listIDs(t, v)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"wrong key", []string{"export", "-vault", v, "-identity", other, "-call", es[0], "-o", filepath.Join(dir, "a.wav")}, "identity does not decrypt"},
		{"missing vault", []string{"calls", "-vault", filepath.Join(dir, "nope")}, "no vault in this directory"},
		{"unknown call", []string{"export", "-vault", v, "-identity", other, "-call", "nonexistent", "-o", filepath.Join(dir, "b.wav")}, "no such recording"},
		{"missing flag", []string{"export", "-vault", v}, "-identity is required"},
		{"identity readable by others", []string{"calls", "-vault", v, "-identity", filepath.Join(dir, "recipients.txt")}, "chmod 600"},
		{"bad config", []string{"run", "-config", writeFile(t, dir, "bad.toml", "[vault]\ndir = \"v\"\nrecipients = \"r\"\n[capture]\nlocal_nets = [\"nonsense\"]\n")}, "capture.local_nets[0]"},
		{"unknown config field", []string{"run", "-config", writeFile(t, dir, "bad2.toml", "[vault]\ndir = \"v\"\nrecipients = \"r\"\nquotum = 5\n")}, "vault.quotum"},
		{"not a capture", []string{"record", "-vault", v, "-recipient", filepath.Join(dir, "recipients.txt"), writeFile(t, dir, "x.pcap", "hello")}, "not a capture file"},
	}
	os.Chmod(filepath.Join(dir, "recipients.txt"), 0o644)
	for _, tc := range cases {
		_, errs, code := runCLI(t, tc.args...)
		if code == 0 || !strings.Contains(errs, tc.want) {
			t.Errorf("%s: exit %d, stderr %q, want it to say %q", tc.name, code, errs, tc.want)
		}
	}
	// Locked: the vault is open in this process.
	open, err := vault.Open(vault.Options{Dir: v})
	if err != nil {
		t.Fatal(err)
	}
	_, errs, code := runCLI(t, "calls", "-vault", v)
	open.Close()
	if code == 0 || !strings.Contains(errs, "locked by another process") {
		t.Errorf("locked: %d %q", code, errs)
	}
	// Corrupt index file.
	os.WriteFile(filepath.Join(v, "vault.db"), []byte("this is not a bbolt file at all, just garbage bytes"), 0o600)
	_, errs, code = runCLI(t, "calls", "-vault", v)
	if code == 0 || !strings.Contains(errs, "corrupt") {
		t.Errorf("corrupt index: %d %q", code, errs)
	}
}

// TestAuditVerifyCLI: the command names the broken entry.
func TestAuditVerifyCLI(t *testing.T) {
	_, v, _, _ := setup(t)
	out, errs, code := runCLI(t, "audit", "verify", "-vault", v)
	if code != 0 || !strings.Contains(out, "audit chain OK") {
		t.Fatalf("%d %s %s", code, out, errs)
	}
	out, _, code = runCLI(t, "fsck", "-vault", v)
	if code != 0 || !strings.Contains(out, "clean") {
		t.Fatalf("fsck: %d %s", code, out)
	}
}

func listIDs(t *testing.T, v string) []string {
	out, _, _ := runCLI(t, "calls", "-vault", v, "-q")
	return strings.Fields(out)
}

func writeFile(t *testing.T, dir, name, content string) string {
	p := filepath.Join(dir, name)
	os.WriteFile(p, []byte(content), 0o600)
	return p
}

// TestHoldEraseReport: the lifecycle commands end to end.
func TestHoldEraseReport(t *testing.T) {
	dir, v, id, _ := setup(t)
	ids := listIDs(t, v)
	hold, _, code := runCLI(t, "hold", "-vault", v, "-id", ids[0], "-reason", "case 12")
	if code != 0 || !strings.HasPrefix(hold, "hold-") {
		t.Fatalf("hold: %q", hold)
	}
	if _, errs, code := runCLI(t, "erase", "-vault", v, "-id", ids[0], "-reason", "asked"); code == 0 || !strings.Contains(errs, "legal hold") {
		t.Fatalf("erase under hold: %d %q", code, errs)
	}
	if out, _, code := runCLI(t, "release", "-vault", v, "-hold", strings.TrimSpace(hold), "-reason", "closed"); code != 0 || !strings.Contains(out, "from 1 records") {
		t.Fatalf("release: %q", out)
	}
	if out, _, code := runCLI(t, "erase", "-vault", v, "-subject", "+49305550000", "-identity", id, "-reason", "Art. 17"); code != 0 || !strings.Contains(out, "erased") {
		t.Fatalf("erase subject: %q", out)
	}
	html := filepath.Join(dir, "report.html")
	out, _, code := runCLI(t, "subject-report", "-vault", v, "-identity", id, "-subject", "+49305550000", "-html", html)
	if code != 0 {
		t.Fatal(code)
	}
	var rep struct {
		Recordings []any `json:"recordings"`
		Deleted    []struct {
			Reason string `json:"reason"`
		} `json:"deleted"`
	}
	json.Unmarshal([]byte(out), &rep)
	if len(rep.Recordings) != 0 || len(rep.Deleted) != 1 || !strings.Contains(rep.Deleted[0].Reason, "Art. 17") {
		t.Fatalf("report: %s", out)
	}
	if b, _ := os.ReadFile(html); !strings.Contains(string(b), "Deleted (1)") {
		t.Fatal("HTML report")
	}
	if out, _, code := runCLI(t, "audit", "verify", "-vault", v); code != 0 || !strings.Contains(out, "OK") {
		t.Fatalf("audit after lifecycle: %q", out)
	}
}

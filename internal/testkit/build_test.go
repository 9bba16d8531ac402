package testkit

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestGoBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go build")
	}
	bin := GoBuild(t, "./testdata/hello")
	if filepath.Base(bin) != "hello" {
		t.Fatalf("binary %s, want one named hello", bin)
	}
	out, err := exec.Command(bin).Output()
	if err != nil || strings.TrimSpace(string(out)) != "hello from a test build" {
		t.Fatalf("built command: %q %v", out, err)
	}
	if err := Build("./testdata/no-such-command", filepath.Join(t.TempDir(), "x")); err == nil || !strings.Contains(err.Error(), "go build ./testdata/no-such-command") {
		t.Fatalf("a missing package: %v", err)
	}
}

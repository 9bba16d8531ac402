package testkit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Build builds the Go command in the directory pkg (relative to the
// test's package directory, where go test runs it: "../cmd/spanvault")
// into the file bin, as the Makefile builds it: with CGO_ENABLED=0.
func Build(pkg, bin string) error {
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
	}
	return nil
}

// GoBuild builds the Go command in the directory pkg (see Build) into
// the test's temporary directory and returns the binary's path, named
// as go build names it (the directory's last element).
func GoBuild(t testing.TB, pkg string) string {
	t.Helper()
	abs, err := filepath.Abs(pkg)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), filepath.Base(abs))
	if err := Build(pkg, bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

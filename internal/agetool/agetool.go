// Package agetool finds, for tests, a standard age command that opens
// hybrid post-quantum files (age1pq1..., "mlkem768x25519" stanzas): the
// installed age where it does (age 1.3 and later), otherwise
// filippo.io/age's own command built from the module this project
// requires (cmd/age, the reference implementation), cached by version
// under the user's cache directory.
package agetool

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	once sync.Once
	path string
	err  string
)

// Path returns the age command, or fails (or skips, when the tool cannot
// be had and SPANVAULT_REQUIRE_TOOLS is unset) t.
func Path(t testing.TB) string {
	t.Helper()
	once.Do(find)
	if path == "" {
		if os.Getenv("SPANVAULT_REQUIRE_TOOLS") != "" {
			t.Fatalf("no age tool that opens hybrid files: %s", err)
		}
		t.Skipf("no age tool that opens hybrid files: %s", err)
	}
	return path
}

// supportsHybrid: age 1.3 introduced hybrid keys (age-keygen -pq); an
// older age prints an older version.
func supportsHybrid(tool string) bool {
	out, e := exec.Command(tool, "--version").Output()
	if e != nil {
		return false
	}
	var major, minor int
	if n, _ := fmt.Sscanf(strings.TrimPrefix(strings.TrimSpace(string(out)), "v"), "%d.%d", &major, &minor); n != 2 {
		return false
	}
	return major > 1 || major == 1 && minor >= 3
}

func find() {
	if p, e := exec.LookPath("age"); e == nil && supportsHybrid(p) {
		path = p
		return
	}
	// The module this project requires: its directory and version.
	out, e := exec.Command("go", "list", "-m", "-f", "{{.Dir}} {{.Version}}", "filippo.io/age").Output()
	f := strings.Fields(string(out))
	if e != nil || len(f) != 2 {
		err = "go list -m filippo.io/age: " + errString(e)
		return
	}
	dir, version := f[0], f[1]
	cache, e := os.UserCacheDir()
	if e != nil {
		cache = os.TempDir()
	}
	bin := filepath.Join(cache, "spanvault", "age-"+version, "age")
	if _, e := os.Stat(bin); e == nil {
		path = bin
		return
	}
	if e := os.MkdirAll(filepath.Dir(bin), 0o700); e != nil {
		err = e.Error()
		return
	}
	// Built in the module's own directory, with its own go.sum (its
	// command needs modules this project does not), to a temporary name
	// renamed into place: tests of several packages may build at once.
	tmp := fmt.Sprintf("%s.tmp%d", bin, os.Getpid())
	cmd := exec.Command("go", "build", "-o", tmp, "./cmd/age")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false", "GOWORK=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if e := cmd.Run(); e != nil {
		err = "go build filippo.io/age/cmd/age: " + e.Error() + ": " + stderr.String()
		return
	}
	if e := os.Rename(tmp, bin); e != nil {
		err = e.Error()
		return
	}
	path = bin
}

func errString(e error) string {
	if e == nil {
		return "unexpected output"
	}
	return e.Error()
}

// Package testkit holds what spanvault's tests share: a movable clock
// (Clock) and a buffer safe to write from other goroutines
// (LockedBuffer), a TCP link that breaks after a number of bytes
// (CutProxy), a record of the requests a real server receives
// (RequestLog), the build of a command as the Makefile builds it
// (GoBuild), the checks that skip a test needing root or an
// installed tool, and the selection of the tests that run a second time
// on other storage (make test-go re-runs sync/client with the archive on
// S3 and archive/access with the index in PostgreSQL).
package testkit

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// RerunEnv, when set (to anything), makes a test binary whose TestMain
// calls Main run only the tests passed to Main: the re-run of make
// test-go, with SPANVAULT_TEST_STORE=s3 and SPANVAULT_TEST_INDEX=postgres.
const RerunEnv = "SPANVAULT_RERUN"

// RequireToolsEnv, when set, turns a missing tool into a failure instead
// of a skip (make test sets it).
const RequireToolsEnv = "SPANVAULT_REQUIRE_TOOLS"

// Main runs the package's tests. In a re-run (RerunEnv set) it runs only
// the marked tests: the -run (and -list) pattern becomes exactly their
// names. The marks are the test functions themselves, so a renamed or
// removed test fails to compile instead of dropping out of the re-run.
func Main(m *testing.M, marked ...func(*testing.T)) int {
	if os.Getenv(RerunEnv) != "" {
		pattern, err := Pattern(marked...)
		if err != nil {
			fmt.Fprintln(os.Stderr, "testkit:", err)
			return 2
		}
		if !flag.Parsed() {
			flag.Parse()
		}
		if err := flag.Set("test.run", pattern); err != nil {
			fmt.Fprintln(os.Stderr, "testkit:", err)
			return 2
		}
		if f := flag.Lookup("test.list"); f != nil && f.Value.String() != "" {
			if err := flag.Set("test.list", pattern); err != nil {
				fmt.Fprintln(os.Stderr, "testkit:", err)
				return 2
			}
		}
	}
	return m.Run()
}

// Pattern is the anchored -run pattern naming exactly the given
// top-level test functions.
func Pattern(tests ...func(*testing.T)) (string, error) {
	if len(tests) == 0 {
		return "", fmt.Errorf("no test marked for the re-run")
	}
	names := make([]string, len(tests))
	for i, fn := range tests {
		n, err := Name(fn)
		if err != nil {
			return "", err
		}
		names[i] = n
	}
	return "^(" + strings.Join(names, "|") + ")$", nil
}

// Name is the name of a top-level test function (TestX), as -run sees it.
func Name(fn func(*testing.T)) (string, error) {
	if fn == nil {
		return "", fmt.Errorf("nil test function")
	}
	f := runtime.FuncForPC(reflect.ValueOf(fn).Pointer())
	if f == nil {
		return "", fmt.Errorf("test function without symbol")
	}
	full := f.Name()
	n := full[strings.LastIndex(full, ".")+1:]
	if !strings.HasPrefix(n, "Test") || strings.Contains(full, ".func") {
		return "", fmt.Errorf("%s is not a top-level test function", full)
	}
	return n, nil
}

// NeedRoot skips the test unless it runs as root (network namespaces,
// packet sockets, tmpfs mounts).
func NeedRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// NeedTool returns the path of an installed tool; without it the test
// skips, or fails when RequireToolsEnv is set.
func NeedTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv(RequireToolsEnv) != "" {
			t.Fatalf("%s not installed (%s is set): %v", name, RequireToolsEnv, err)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

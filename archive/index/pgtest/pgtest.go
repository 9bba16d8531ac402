// Package pgtest starts a private PostgreSQL server for a test: Debian's
// postgresql package (scripts/install-deps.sh installs it), a fresh
// cluster in a temporary directory owned by the postgres user (initdb and
// the server refuse to run as root), listening only on a unix socket in
// that directory: no TCP port, no clash with other runs. Stopped by its
// data directory when the test ends.
package pgtest

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
)

// BinDir returns the directory of the newest installed PostgreSQL's
// programs, or "".
func BinDir() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		a, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		b, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return a < b
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i]
		}
	}
	return ""
}

func unavailable(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("SPANVAULT_REQUIRE_TOOLS") != "" {
		t.Fatal("PostgreSQL: " + why)
	}
	t.Skip("PostgreSQL: " + why)
}

// Start starts a server for t and returns a libpq URL for its database.
func Start(t testing.TB) string {
	t.Helper()
	bin := BinDir()
	if bin == "" {
		unavailable(t, "not installed (apt-get install postgresql; scripts/install-deps.sh does)")
	}
	pg, err := user.Lookup("postgres")
	if err != nil {
		unavailable(t, "no postgres user")
	}
	runuser, err := exec.LookPath("runuser")
	if err != nil || os.Geteuid() != 0 {
		unavailable(t, "starting a private server needs root (to run it as the postgres user)")
	}
	dir, err := os.MkdirTemp("", "spanvault-pg-")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(pg.Uid)
	gid, _ := strconv.Atoi(pg.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	as := func(name string, args ...string) error {
		cmd := exec.Command(runuser, append([]string{"-u", "postgres", "--", filepath.Join(bin, name)}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %v\n%s", name, err, out)
		}
		return nil
	}
	data := filepath.Join(dir, "data")
	t.Cleanup(func() {
		if err := as("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"); err != nil {
			t.Errorf("pgtest: stopping PostgreSQL: %v", err)
		}
		os.RemoveAll(dir)
	})
	if err := as("initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"); err != nil {
		t.Fatal(err)
	}
	if err := as("pg_ctl", "-D", data, "-o", fmt.Sprintf("-k %s -c listen_addresses=''", dir), "-l", filepath.Join(dir, "log"), "-w", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		t.Fatalf("%v\n%s", err, log)
	}
	return fmt.Sprintf("postgres://postgres@/postgres?host=%s&sslmode=disable", dir)
}

// Dump backs the database of dsn up (pg_dump, custom format) into file.
func Dump(t testing.TB, dsn, file string) {
	t.Helper()
	out, err := exec.Command(filepath.Join(BinDir(), "pg_dump"), "-Fc", "-f", file, "-d", dsn).CombinedOutput()
	if err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
}

// Restore replaces the database of dsn with the dump in file.
func Restore(t testing.TB, dsn, file string) {
	t.Helper()
	out, err := exec.Command(filepath.Join(BinDir(), "pg_restore"), "--clean", "--if-exists", "-d", dsn, file).CombinedOutput()
	if err != nil {
		t.Fatalf("pg_restore: %v\n%s", err, out)
	}
}

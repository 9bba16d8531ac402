// Package s3test starts a private S3 server with Object Lock for a test:
// versitygw (scripts/install-s3.sh builds it, cached by version) on a
// loopback port, over a temporary directory, stopped when the test ends.
// No mock: the archive's S3 backend is tested against a real server.
package s3test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive/store"
)

// Version is the versitygw release scripts/install-s3.sh installs.
const Version = "v1.8.0"

// Binary returns the versitygw binary: $SPANVAULT_VERSITYGW, or the one
// install-s3.sh caches.
func Binary() string {
	if p := os.Getenv("SPANVAULT_VERSITYGW"); p != "" {
		return p
	}
	return filepath.Join(CacheDir(), "versitygw-"+Version, "versitygw")
}

// CacheDir is where the install scripts cache what they build by
// version: $SPANVAULT_CACHE, or ~/.cache/spanvault.
func CacheDir() string {
	if c := os.Getenv("SPANVAULT_CACHE"); c != "" {
		return c
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "spanvault")
}

// Start starts a server for t and returns a configuration with a fresh
// bucket name (the bucket is not created: the archive creates it with
// Object Lock). Without the binary the test is skipped, or fails when
// SPANVAULT_REQUIRE_TOOLS is set (make test sets it).
func Start(t testing.TB) store.S3Config {
	t.Helper()
	bin := Binary()
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("SPANVAULT_REQUIRE_TOOLS") != "" {
			t.Fatalf("versitygw not installed at %s: run scripts/install-s3.sh", bin)
		}
		t.Skipf("versitygw not installed at %s (scripts/install-s3.sh)", bin)
	}
	dir := t.TempDir()
	for _, d := range []string{"data", "versions"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	secret := make([]byte, 16)
	rand.Read(secret)
	cfg := store.S3Config{Endpoint: addr, AccessKey: "spanvault-test", SecretKey: hex.EncodeToString(secret), Bucket: "archive-" + hex.EncodeToString(secret[:4])}
	cmd := exec.Command(bin, "--port", addr, "--health", "/health", "posix", "--versioning-dir", filepath.Join(dir, "versions"), filepath.Join(dir, "data"))
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+cfg.AccessKey, "ROOT_SECRET_KEY="+cfg.SecretKey)
	logf, _ := os.Create(filepath.Join(dir, "versitygw.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done: // stopped by our signal: its exit status says only that
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		logf.Close()
	})
	// Ready when /health answers (bounded by attempts, not a clock
	// assertion: a busy machine only makes it take more of them).
	for i := 0; ; i++ {
		select {
		case err := <-done:
			log, _ := os.ReadFile(filepath.Join(dir, "versitygw.log"))
			t.Fatalf("versitygw exited: %v\n%s", err, log)
		default:
		}
		resp, err := http.Get(fmt.Sprintf("http://%s/health", addr))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if i == 600 {
			t.Fatalf("versitygw at %s not ready: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return cfg
}

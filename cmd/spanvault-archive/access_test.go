package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"github.com/spanvault/spanvault/internal/testkit"
)

// TestUserAddAndServeWeb: the names the checks rely on. "user add" prints
// the one-time password and the TOTP URL, once; "serve -web" serves the
// API over HTTPS with the archive's certificate; the one-time password
// and a code sign in (200, a cookie and a bearer token), a wrong code does
// not (401); /api/v1/recordings wants a session.
func TestUserAddAndServeWeb(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "archive")
	if _, e, code := run(t, "init", "-dir", dir, "-listen", "127.0.0.1:0"); code != 0 {
		t.Fatalf("init: %s", e)
	}
	run(t, "enroll", "-dir", dir, "-name", "branch-1", "-o", filepath.Join(t.TempDir(), "box"))
	out, e, code := run(t, "user", "add", "-dir", dir, "-name", "clara", "-role", "compliance", "-branches", "branch-1")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "password: ") || !strings.HasPrefix(lines[1], "totp: otpauth://totp/") {
		t.Fatalf("user add: %d %q %s", code, out, e)
	}
	password := strings.TrimPrefix(lines[0], "password: ")
	key, err := otp.NewKeyFromURL(strings.TrimPrefix(lines[1], "totp: "))
	if err != nil {
		t.Fatal(err)
	}
	if _, e, code := run(t, "user", "add", "-dir", dir, "-name", "clara", "-role", "dpo"); code == 0 || !strings.Contains(e, "exists") {
		t.Fatalf("second user add: %s", e)
	}
	if _, e, code := run(t, "user", "add", "-dir", dir, "-name", "sam", "-role", "supervisor"); code == 0 || !strings.Contains(e, "scoped to branches") {
		t.Fatalf("supervisor without branches: %s", e)
	}
	if _, e, code := run(t, "user", "add", "-dir", dir, "-name", "x", "-role", "root"); code == 0 || !strings.Contains(e, "unknown role") {
		t.Fatalf("unknown role: %s", e)
	}
	if o, _, _ := run(t, "user", "list", "-dir", dir); !strings.Contains(o, "clara\tcompliance\tbranch-1") {
		t.Fatalf("user list: %q", o)
	}

	id, _ := age.GenerateX25519Identity()
	idFile := filepath.Join(t.TempDir(), "identity")
	os.WriteFile(idFile, []byte(id.String()+"\n"), 0o600)
	bin := testkit.GoBuild(t, ".")
	cmd := exec.Command(bin, "serve", "-dir", dir, "-web", "127.0.0.1:0", "-identity", idFile)
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	web := ""
	sc := bufio.NewScanner(stdout)
	for web == "" && sc.Scan() {
		if a, ok := strings.CutPrefix(sc.Text(), "serving the access service on "); ok {
			web = a
		}
	}
	go io.Copy(io.Discard, stdout)
	if web == "" {
		t.Fatalf("serve printed no web address: %s", stderr.String())
	}
	ca, _ := os.ReadFile(filepath.Join(dir, "ca", "ca.crt"))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	signIn := func(code string) (*http.Response, map[string]any) {
		b, _ := json.Marshal(map[string]string{"name": "clara", "password": password, "totp": code})
		resp, err := c.Post(web+"/api/v1/session", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp, m
	}
	if resp, _ := signIn("000000"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong code: %d", resp.StatusCode)
	}
	// The one-time password signs in to nothing but a new password.
	code2, _ := totp.GenerateCode(key.Secret(), time.Now())
	if resp, m := signIn(code2); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("one-time password for a session: %d %v", resp.StatusCode, m)
	}
	b, _ := json.Marshal(map[string]string{"name": "clara", "password": password, "totp": code2, "new_password": "clara's own long password"})
	resp, err := c.Post(web+"/api/v1/password", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	resp.Body.Close()
	if resp.StatusCode != 200 || m["token"] == "" || len(resp.Cookies()) == 0 || !resp.Cookies()[0].Secure || !resp.Cookies()[0].HttpOnly {
		t.Fatalf("new password: %d %v %v", resp.StatusCode, m, resp.Cookies())
	}
	req, _ := http.NewRequest("GET", web+"/api/v1/recordings", nil)
	if r, err := c.Do(req); err != nil || r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("recordings without a session: %v %v", r, err)
	}
	req.Header.Set("Authorization", "Bearer "+m["token"].(string))
	if r, err := c.Do(req); err != nil || r.StatusCode != 200 {
		t.Fatalf("recordings with the token: %v %v", r, err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve after SIGTERM: %v %s", err, stderr.String())
	}
	if strings.Contains(stderr.String(), "AGE-SECRET") || strings.Contains(stderr.String(), password) {
		t.Fatal("serve logged a secret")
	}
}

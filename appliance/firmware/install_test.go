package firmware_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/spanvault/spanvault/appliance/firmware"
)

// fakeGokrazy answers like gokrazy's supervisor (update.go there): basic
// auth as "gokrazy", PUTs answered with the hex SHA-256 of the body, POSTs
// for testboot, switch and reboot. gokrazy itself runs under qemu in the
// image test; this checks the calls the daemon makes.
func fakeGokrazy(t *testing.T, password string) (string, *[]string) {
	sock := filepath.Join(t.TempDir(), "gokrazy.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var calls []string
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "gokrazy" || p != password {
			http.Error(w, "invalid username/password", http.StatusUnauthorized)
			return
		}
		mu.Lock()
		calls = append(calls, r.Method+" "+r.URL.RequestURI())
		mu.Unlock()
		switch r.URL.Path {
		case "/update/bootonly", "/update/root":
			if r.Method != http.MethodPut {
				http.Error(w, "expected a PUT request", http.StatusBadRequest)
				return
			}
			h := sha256.New()
			io.Copy(h, r.Body)
			fmt.Fprintf(w, "%x", h.Sum(nil))
		case "/update/testboot", "/update/switch", "/reboot":
			if r.Method != http.MethodPost {
				http.Error(w, "expected a POST request", http.StatusBadRequest)
			}
		default:
			http.NotFound(w, r)
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return sock, &calls
}

func TestGokrazyInstaller(t *testing.T) {
	sock, calls := fakeGokrazy(t, "s3cret")
	pw := filepath.Join(t.TempDir(), "gokr-pw.txt")
	os.WriteFile(pw, []byte("s3cret\n"), 0o400)
	g := &firmware.Gokrazy{Addr: sock, PasswordFile: pw}
	ctx := context.Background()
	boot, root := []byte("boot partition"), bytes.Repeat([]byte("root"), 1000)
	sum, err := g.WriteBoot(ctx, bytes.NewReader(boot), int64(len(boot)))
	if want := sha256.Sum256(boot); err != nil || !bytes.Equal(sum, want[:]) {
		t.Fatalf("boot: %x %v", sum, err)
	}
	sum, err = g.WriteRoot(ctx, bytes.NewReader(root), int64(len(root)))
	if want := sha256.Sum256(root); err != nil || !bytes.Equal(sum, want[:]) {
		t.Fatalf("root: %x %v", sum, err)
	}
	for _, f := range []func(context.Context) error{g.TestBoot, g.Switch, g.Reboot} {
		if err := f(ctx); err != nil {
			t.Fatal(err)
		}
	}
	want := "PUT /update/bootonly,PUT /update/root,POST /update/testboot,POST /update/switch,POST /reboot?async=true"
	if got := strings.Join(*calls, ","); got != want {
		t.Fatalf("calls\n%s\nwant\n%s", got, want)
	}
	// A wrong password is an error, not a silent success.
	os.WriteFile(pw, []byte("wrong"), 0o400)
	if err := g.TestBoot(ctx); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong password: %v", err)
	}
}

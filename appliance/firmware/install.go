package firmware

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Installer writes an update and moves the box between its roots. The
// daemon calls, in this order: WriteBoot, WriteRoot (the hash it returns
// must be the manifest's), TestBoot, then Reboot; after the new
// firmware's first healthy check-in, Switch.
type Installer interface {
	// WriteBoot writes the boot partition, keeping the active root the
	// one booted (gokrazy's /update/bootonly). It returns the SHA-256 of
	// what was written.
	WriteBoot(ctx context.Context, r io.Reader, size int64) ([]byte, error)
	// WriteRoot writes the inactive root partition and returns the
	// SHA-256 of what was written.
	WriteRoot(ctx context.Context, r io.Reader, size int64) ([]byte, error)
	// TestBoot makes the next boot run the inactive root once.
	TestBoot(ctx context.Context) error
	// Switch makes the root running (in a test boot) the default.
	Switch(ctx context.Context) error
	// Reboot reboots the box.
	Reboot(ctx context.Context) error
}

// Defaults of gokrazy's update API on the box.
const (
	GokrazySocket       = "/run/gokrazy-http.sock" // gokrazy.HTTPUnixSocket
	GokrazyPasswordFile = "/etc/gokr-pw.txt"
)

// Gokrazy is the installer of a gokrazy image: its supervisor's update
// API, with basic auth (user "gokrazy", the image's password), over its
// Unix socket or an HTTP address on the box.
type Gokrazy struct {
	// Addr is a Unix socket path (starting with "/") or host:port.
	Addr string
	// PasswordFile holds the password (gokr-pw.txt); read at each call.
	PasswordFile string
	// Timeout bounds each call but the writes (default one minute).
	Timeout time.Duration
}

func (g *Gokrazy) client() (*http.Client, string) {
	addr := g.Addr
	if addr == "" {
		addr = GokrazySocket
	}
	if strings.HasPrefix(addr, "/") {
		tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", addr)
		}}
		return &http.Client{Transport: tr}, "http://gokrazy"
	}
	return &http.Client{Transport: &http.Transport{}}, "http://" + addr
}

func (g *Gokrazy) password() (string, error) {
	p := g.PasswordFile
	if p == "" {
		p = GokrazyPasswordFile
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("gokrazy: password: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

func (g *Gokrazy) do(ctx context.Context, method, path string, body io.Reader, size int64) ([]byte, error) {
	pw, err := g.password()
	if err != nil {
		return nil, err
	}
	if body == nil {
		t := g.Timeout
		if t <= 0 {
			t = time.Minute
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	hc, base := g.client()
	defer hc.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, method, base+path, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.ContentLength = size
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	req.SetBasicAuth("gokrazy", pw)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("gokrazy %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("gokrazy %s: %s: %s", path, resp.Status, strings.TrimSpace(string(b)))
	}
	return b, nil
}

func (g *Gokrazy) write(ctx context.Context, path string, r io.Reader, size int64) ([]byte, error) {
	b, err := g.do(ctx, http.MethodPut, path, r, size)
	if err != nil {
		return nil, err
	}
	sum, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(sum) != sha256.Size {
		return nil, fmt.Errorf("gokrazy %s: answered %q, not a SHA-256", path, b)
	}
	return sum, nil
}

func (g *Gokrazy) WriteBoot(ctx context.Context, r io.Reader, size int64) ([]byte, error) {
	return g.write(ctx, "/update/bootonly", r, size)
}

func (g *Gokrazy) WriteRoot(ctx context.Context, r io.Reader, size int64) ([]byte, error) {
	return g.write(ctx, "/update/root", r, size)
}

func (g *Gokrazy) TestBoot(ctx context.Context) error {
	_, err := g.do(ctx, http.MethodPost, "/update/testboot", nil, 0)
	return err
}

func (g *Gokrazy) Switch(ctx context.Context) error {
	_, err := g.do(ctx, http.MethodPost, "/update/switch", nil, 0)
	return err
}

// Reboot asks gokrazy to stop every service (SIGTERM: the daemon seals
// the calls in progress) and reboot; it answers before it does.
func (g *Gokrazy) Reboot(ctx context.Context) error {
	_, err := g.do(ctx, http.MethodPost, "/reboot?async=true", nil, 0)
	return err
}

// Dir is an installer that writes the "partitions" as files in a
// directory: boot.img, root.img, and the events (testboot, switch,
// reboot) appended to log, one a line. For tests, and for a box
// without gokrazy (a development machine), where Reboot only logs.
type Dir struct {
	Path string
	// OnReboot, when set, runs at Reboot (tests restart the daemon).
	OnReboot func()
}

func (d *Dir) event(s string) error {
	if err := os.MkdirAll(d.Path, 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(d.Path, "log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteString(s + "\n")
	return err
}

func (d *Dir) write(name string, r io.Reader, size int64) ([]byte, error) {
	if err := os.MkdirAll(d.Path, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(d.Path, name), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), r)
	if err == nil && n != size {
		err = fmt.Errorf("%s: %d bytes written, %d announced", name, n, size)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return h.Sum(nil), d.event("write " + name)
}

func (d *Dir) WriteBoot(_ context.Context, r io.Reader, size int64) ([]byte, error) {
	return d.write("boot.img", r, size)
}

func (d *Dir) WriteRoot(_ context.Context, r io.Reader, size int64) ([]byte, error) {
	return d.write("root.img", r, size)
}

func (d *Dir) TestBoot(context.Context) error { return d.event("testboot") }
func (d *Dir) Switch(context.Context) error   { return d.event("switch") }

func (d *Dir) Reboot(context.Context) error {
	if err := d.event("reboot"); err != nil {
		return err
	}
	if d.OnReboot != nil {
		d.OnReboot()
	}
	return nil
}

// Events returns the events logged so far.
func (d *Dir) Events() ([]string, error) {
	b, err := os.ReadFile(filepath.Join(d.Path, "log"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return strings.Fields(strings.ReplaceAll(string(bytes.TrimSpace(b)), "write ", "write:")), nil
}

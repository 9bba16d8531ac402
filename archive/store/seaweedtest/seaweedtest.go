// Package seaweedtest starts a real multi-node SeaweedFS cluster for a
// test, on loopback: one master, three volume servers with replication
// 001 (every needle on two servers), a filer and the S3 gateway, each its
// own process, all stopped when the test ends. scripts/install-seaweedfs.sh
// builds the binary, cached by version. make cluster uses it.
package seaweedtest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive/store"
	"github.com/spanvault/spanvault/archive/store/s3test"
)

// Version is the SeaweedFS module version install-seaweedfs.sh builds
// (the only one the Go module proxy serves here).
const Version = "v0.0.0-20261109003541-7506e5f91cd6"

// Binary is $SPANVAULT_WEED, or the cached build.
func Binary() string {
	if p := os.Getenv("SPANVAULT_WEED"); p != "" {
		return p
	}
	return filepath.Join(s3test.CacheDir(), "weed-"+Version, "weed")
}

// Cluster is a running cluster.
type Cluster struct {
	S3      store.S3Config
	Volumes []*exec.Cmd
	dir     string
	t       testing.TB
}

func freePort(t testing.TB) int {
	// weed listens on port and port+10000 (gRPC): pick one whose both
	// are free.
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if p+10000 > 65535 {
			continue
		}
		if l2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+10000)); err == nil {
			l2.Close()
			return p
		}
	}
}

func (c *Cluster) start(name string, args ...string) *exec.Cmd {
	c.t.Helper()
	logf, err := os.Create(filepath.Join(c.dir, name+".log"))
	if err != nil {
		c.t.Fatal(err)
	}
	cmd := exec.Command(Binary(), args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-done
			}
		}
		logf.Close()
	})
	return cmd
}

// Start starts the cluster and waits until the S3 gateway takes a signed
// write. Without the binary the test is skipped (or fails under
// SPANVAULT_REQUIRE_TOOLS).
func Start(t testing.TB) *Cluster {
	t.Helper()
	if _, err := os.Stat(Binary()); err != nil {
		if os.Getenv("SPANVAULT_REQUIRE_TOOLS") != "" {
			t.Fatalf("SeaweedFS not installed at %s: run scripts/install-seaweedfs.sh", Binary())
		}
		t.Skipf("SeaweedFS not installed at %s (scripts/install-seaweedfs.sh)", Binary())
	}
	c := &Cluster{dir: t.TempDir(), t: t}
	secret := make([]byte, 16)
	rand.Read(secret)
	c.S3 = store.S3Config{AccessKey: "spanvault-archive", SecretKey: hex.EncodeToString(secret), Bucket: "archive-" + hex.EncodeToString(secret[:4])}
	ip := []string{"-ip=127.0.0.1", "-ip.bind=127.0.0.1"}
	master := freePort(t)
	mdir := filepath.Join(c.dir, "master")
	if err := os.MkdirAll(mdir, 0o700); err != nil {
		t.Fatal(err)
	}
	c.start("master", append([]string{"master", "-port=" + strconv.Itoa(master), "-mdir=" + mdir, "-defaultReplication=001", "-volumeSizeLimitMB=64", "-telemetry=false"}, ip...)...)
	maddr := fmt.Sprintf("127.0.0.1:%d", master)
	for i := 0; i < 3; i++ {
		vdir := filepath.Join(c.dir, fmt.Sprintf("volume%d", i))
		if err := os.MkdirAll(vdir, 0o700); err != nil {
			t.Fatal(err)
		}
		c.Volumes = append(c.Volumes, c.start(fmt.Sprintf("volume%d", i), append([]string{"volume", "-port=" + strconv.Itoa(freePort(t)), "-dir=" + vdir, "-max=30", "-mserver=" + maddr}, ip...)...))
	}
	filer := freePort(t)
	fdir := filepath.Join(c.dir, "filer")
	if err := os.MkdirAll(fdir, 0o700); err != nil {
		t.Fatal(err)
	}
	c.start("filer", append([]string{"filer", "-port=" + strconv.Itoa(filer), "-master=" + maddr, "-defaultStoreDir=" + fdir}, ip...)...)
	s3cfg := map[string]any{"identities": []any{map[string]any{
		"name":        "archive",
		"credentials": []any{map[string]string{"accessKey": c.S3.AccessKey, "secretKey": c.S3.SecretKey}},
		"actions":     []string{"Admin", "Read", "Write", "List", "Tagging"},
	}}}
	b, _ := json.Marshal(s3cfg)
	cfgFile := filepath.Join(c.dir, "s3.json")
	if err := os.WriteFile(cfgFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	s3 := freePort(t)
	c.start("s3", "s3", "-ip.bind=127.0.0.1", "-port="+strconv.Itoa(s3), fmt.Sprintf("-filer=127.0.0.1:%d", filer), "-config="+cfgFile)
	c.S3.Endpoint = fmt.Sprintf("127.0.0.1:%d", s3)
	for i := 0; ; i++ {
		resp, err := http.Get("http://" + c.S3.Endpoint + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 && c.volumesUp(maddr) == 3 {
				break
			}
		}
		if i == 1200 {
			log, _ := os.ReadFile(filepath.Join(c.dir, "s3.log"))
			t.Fatalf("SeaweedFS cluster not ready: %v\n%s", err, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return c
}

// volumesUp counts the volume servers the master knows.
func (c *Cluster) volumesUp(master string) int {
	resp, err := http.Get("http://" + master + "/dir/status")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var st struct {
		Topology struct {
			DataCenters []struct {
				Racks []struct {
					DataNodes []any
				}
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return 0 // not up yet: asked again
	}
	n := 0
	for _, dc := range st.Topology.DataCenters {
		for _, r := range dc.Racks {
			n += len(r.DataNodes)
		}
	}
	return n
}

// KillVolume kills volume server i at once (SIGKILL: no goodbye to the master).
func (c *Cluster) KillVolume(i int) {
	c.Volumes[i].Process.Kill()
	c.Volumes[i].Wait()
}

// Log returns one process's log (master, volume0..2, filer, s3).
func (c *Cluster) Log(name string) string {
	b, _ := os.ReadFile(filepath.Join(c.dir, name+".log"))
	return string(b)
}

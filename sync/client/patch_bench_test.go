package client_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/sync/wire"
)

// BenchmarkPatchUpload: one sealed 1 MiB recording per iteration PATCHed
// from offset 0 by the box's certificate over real TLS to the archive's
// ingest listener (directory store, SQLite): the receive path (stall
// deadline, staging write, hashing as received, fsync, seal, claim) and
// the sending side's allocations per upload (b.ReportAllocs counts the
// whole process: box and archive share it). `go test -run '^$' -bench
// PatchUpload -benchtime 200x ./sync/client`.
func BenchmarkPatchUpload(b *testing.B) {
	e := newEnvTB(b)
	hc := boxHTTPClient(b, e.enroll)
	const size = 1 << 20
	payload := bytes.Repeat([]byte("spanvault"), size/9)
	upload := func(body []byte, sum string) {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPatch, "https://"+e.addr+wire.PathObjects+sum, bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set(wire.HeaderOffset, "0")
		req.Header.Set(wire.HeaderLength, strconv.Itoa(len(body)))
		req.Header.Set("Content-Type", "application/offset+octet-stream")
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			b.Fatalf("PATCH: %d %s", resp.StatusCode, resp.Header.Get(wire.HeaderError))
		}
	}
	seal := func() ([]byte, string) {
		var buf bytes.Buffer
		w, err := age.Encrypt(&buf, e.identity.Recipient())
		if err != nil {
			b.Fatal(err)
		}
		w.Write(payload)
		w.Close()
		s := sha256.Sum256(buf.Bytes())
		return buf.Bytes(), hex.EncodeToString(s[:])
	}
	// One upload first: the connection and its TLS handshake are not
	// what is measured.
	body, sum := seal()
	upload(body, sum)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		body, sum := seal()
		b.StartTimer()
		upload(body, sum)
	}
}

// boxHTTPClient is an HTTP/1.1 client with the enrolled box's certificate.
func boxHTTPClient(tb testing.TB, dir string) *http.Client {
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "sync.crt"), filepath.Join(dir, "sync.key"))
	if err != nil {
		tb.Fatal(err)
	}
	caPEM, _ := os.ReadFile(filepath.Join(dir, "ca.crt"))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13},
		IdleConnTimeout: time.Minute}
	tb.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// BenchmarkUploadPass: one box's pass with 24 one-minute recordings
// (about 1 MB each) to a fresh archive (directory store, SQLite) over
// real TLS; box and archive share the process, whose CPU time (user and
// system, getrusage) per MB is reported beside the requests' wall time.
// `go test -run '^$' -bench UploadPass -benchtime 5x ./sync/client`.
func BenchmarkUploadPass(b *testing.B) {
	e := newEnvTB(b)
	e.record(synth.Config{Calls: 24, Concurrent: 24, Duration: time.Minute, Start: e.clock.Now().Add(-time.Hour)})
	es, _ := e.v.PendingSync(0)
	var total int64
	for _, en := range es {
		total += en.Size
	}
	b.ReportAllocs()
	b.SetBytes(total)
	b.ResetTimer()
	var cpu time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		f := newEnvWithVault(b, e)
		c := f.client()
		b.StartTimer()
		c0 := processCPU()
		if err := f.pass(c); err != nil {
			b.Fatal(err)
		}
		cpu += processCPU() - c0
	}
	b.ReportMetric(cpu.Seconds()*1000/(float64(total)*float64(b.N)/1e6), "CPU-ms/MB")
}

// processCPU is this process's user and system CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

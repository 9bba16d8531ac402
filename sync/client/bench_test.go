package client_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/sync/client"
	"github.com/spanvault/spanvault/vault"
)

// plainTLSCopy sends n bytes of r over a plain TLS 1.3 connection on
// loopback to a server that reads and discards them, and returns the time.
func plainTLSCopy(b *testing.B, e *env, files []string, durable bool) time.Duration {
	certPEM := filepath.Join(e.dir, "server.crt")
	cert, err := tls.LoadX509KeyPair(certPEM, filepath.Join(e.dir, "server.key"))
	if err != nil {
		b.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert}})
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		c, err := ln.Accept()
		if err == nil {
			if durable {
				f, _ := os.CreateTemp(b.TempDir(), "copy")
				io.Copy(f, c)
				f.Sync()
				f.Close()
			} else {
				io.Copy(io.Discard, c)
			}
			c.Close()
		}
		close(done)
	}()
	caPEM, _ := os.ReadFile(filepath.Join(e.enroll, "ca.crt"))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	start := time.Now()
	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13})
	if err != nil {
		b.Fatal(err)
	}
	for _, f := range files {
		fh, _ := os.Open(f)
		io.Copy(c, fh)
		fh.Close()
	}
	c.Close()
	<-done
	return time.Since(start)
}

// BenchmarkSyncThroughput: sealed recordings to the archive over mutual
// TLS (durable: fsynced and re-hashed), against a plain TLS 1.3 copy of
// the same bytes on the same loopback in the same run.
func BenchmarkSyncThroughput(b *testing.B) {
	e := newEnvTB(b)
	e.record(synth.Config{Calls: 16, Concurrent: 16, Duration: 10 * time.Minute, Start: e.clock.Now().Add(-time.Hour)})
	es, _ := e.v.PendingSync(0)
	var files []string
	var total int64
	for _, en := range es {
		p, _ := e.v.RecordingPath(en.ID)
		files = append(files, p)
		total += en.Size
	}
	b.ResetTimer()
	var ours, ref, disk time.Duration
	for i := 0; i < b.N; i++ {
		ref += plainTLSCopy(b, e, files, false)
		disk += plainTLSCopy(b, e, files, true)
		// A fresh archive each round, so every byte travels.
		f := newEnvWithVault(b, e)
		c := f.client()
		start := time.Now()
		if err := f.pass(c); err != nil {
			b.Fatal(err)
		}
		ours += time.Since(start)
	}
	mb := float64(total) * float64(b.N) / 1e6
	b.ReportMetric(mb/ours.Seconds(), "MB/s")
	b.ReportMetric(mb/ref.Seconds(), "ref-MB/s")
	b.ReportMetric(ref.Seconds()/ours.Seconds(), "ratio")
	b.ReportMetric(mb/disk.Seconds(), "disk-ref-MB/s")
	b.ReportMetric(disk.Seconds()/ours.Seconds(), "disk-ratio")
}

// BenchmarkSmallRecords: 1 KiB call detail records over one connection.
func BenchmarkSmallRecords(b *testing.B) {
	e := newEnvTB(b)
	e.record(synth.Config{Calls: 1, Rejected: 3000, Duration: time.Second, Start: e.clock.Now().Add(-time.Hour)})
	es, _ := e.v.PendingSync(0)
	var size int
	for _, en := range es {
		m, _, _ := e.v.Sealed(en.ID)
		size += len(m)
	}
	b.ResetTimer()
	var d time.Duration
	for i := 0; i < b.N; i++ {
		f := newEnvWithVault(b, e)
		c := f.client()
		start := time.Now()
		if err := f.pass(c); err != nil {
			b.Fatal(err)
		}
		d += time.Since(start)
	}
	b.ReportMetric(float64(len(es)*b.N)/d.Seconds(), "records/s")
	b.ReportMetric(float64(size)/float64(len(es)), "sealed-bytes/record")
}

// BenchmarkRateCap: a 30-second transfer under a cap.
func BenchmarkRateCap(b *testing.B) {
	e := newEnvTB(b)
	e.record(synth.Config{Calls: 4, Concurrent: 4, Duration: 10 * time.Minute, Start: e.clock.Now().Add(-time.Hour)})
	es, _ := e.v.PendingSync(0)
	var total int64
	for _, en := range es {
		total += en.Size
	}
	capRate := total / 30 // bytes per second for a 30 s transfer
	b.ResetTimer()
	var d time.Duration
	for i := 0; i < b.N; i++ {
		f := newEnvWithVault(b, e)
		cfg := f.config()
		cfg.Rate = capRate
		c, err := client.New(cfg, f.v)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if err := f.pass(c); err != nil {
			b.Fatal(err)
		}
		d += time.Since(start)
	}
	got := float64(total) * float64(b.N) / d.Seconds()
	b.ReportMetric(float64(capRate), "cap-B/s")
	b.ReportMetric(got, "measured-B/s")
	b.ReportMetric((got-float64(capRate))/float64(capRate)*100, "error-%")
}

// BenchmarkIngest20: 20 boxes, each with its own certificate and vault,
// sync at once to one archive process; its CPU time per MB from /proc.
func BenchmarkIngest20(b *testing.B) {
	const boxes = 20
	e := newEnvTB(b)
	bin := filepath.Join(b.TempDir(), "spanvault-archive")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/spanvault-archive").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	e.stopArchive()
	type box struct {
		v   *vault.Vault
		cfg client.Config
	}
	var bs []box
	var total int64
	var recs int
	id, _ := age.GenerateX25519Identity()
	for i := 0; i < boxes; i++ {
		name := fmt.Sprintf("branch-%02d", i)
		a := e.reopenArchive(b)
		r, err := a.Enroll(context.Background(), name, filepath.Join(b.TempDir(), name), nil)
		a.Close()
		if err != nil {
			b.Fatal(err)
		}
		v, err := vault.Open(vault.Options{Dir: filepath.Join(b.TempDir(), name), Recipients: []age.Recipient{id.Recipient()}, Policy: testPolicy()})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { v.Close() })
		ee := &env{t: e.t, v: v, clock: e.clock}
		ee.record(synth.Config{Calls: 10, Concurrent: 10, Duration: time.Minute, Seed: uint64(i + 1), Start: e.clock.Now().Add(-time.Hour)})
		es, _ := v.PendingSync(0)
		for _, en := range es {
			total += en.Size
			recs++
		}
		cfg := e.config()
		cfg.Name = name
		cfg.Cert, cfg.Key = filepath.Join(r.Dir, "sync.crt"), filepath.Join(r.Dir, "sync.key")
		bs = append(bs, box{v, cfg})
	}
	cmd := exec.Command(bin, "serve", "-dir", e.dir, "-listen", e.addr)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", e.addr); err == nil {
			c.Close()
			break
		}
		if i > 500 {
			b.Fatal("archive did not listen")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cpu0 := procCPU(cmd.Process.Pid)
	b.ResetTimer()
	start := time.Now()
	var wg gosync.WaitGroup
	errs := make(chan error, boxes)
	for _, bx := range bs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := client.New(bx.cfg, bx.v)
			if err == nil {
				err = c.Pass(context.Background(), client.Options{Upload: true})
			}
			errs <- err
		}()
	}
	wg.Wait()
	d := time.Since(start)
	close(errs)
	for err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	cpu := procCPU(cmd.Process.Pid) - cpu0
	mb := float64(total) / 1e6
	b.ReportMetric(float64(recs)/d.Seconds(), "recordings/s")
	b.ReportMetric(mb/d.Seconds(), "MB/s")
	b.ReportMetric(cpu.Seconds()*1000/mb, "archive-CPU-ms/MB")
}

// procCPU is a process's user+system CPU time from /proc.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

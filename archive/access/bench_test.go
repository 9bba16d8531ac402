package access_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/archive/keyring"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/vault"
)

func benchRows() int {
	if n, err := strconv.Atoi(os.Getenv("SPANVAULT_BENCH_RECORDINGS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

func seal(b *testing.B, r age.Recipient, v any) []byte {
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, r)
	if err != nil {
		b.Fatal(err)
	}
	json.NewEncoder(w).Encode(v)
	w.Close()
	return buf.Bytes()
}

// BenchmarkSubjectLookup: a subject's records by number at 1 million
// recordings (SPANVAULT_BENCH_RECORDINGS), through the blind index, as a
// ratio to what a box does today: open every sealed record and compare.
func BenchmarkSubjectLookup(b *testing.B) {
	n := benchRows()
	dir := filepath.Join(b.TempDir(), "archive")
	if err := archive.Init(dir, archive.InitOptions{Name: "bench"}); err != nil {
		b.Fatal(err)
	}
	a, err := archive.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	id, _ := age.GenerateX25519Identity()
	keys, _ := keyring.Parse([]byte(id.String()))
	svc := access.New(a, keys)
	ctx := context.Background()
	const numbers = 200_000 // about five recordings per number
	// A pool of really sealed metadata; row i carries the pool entry of
	// its number, so what the lookup returns opens to the right number.
	const pool = 1000
	sealed := make([][]byte, pool)
	for i := range sealed {
		num := fmt.Sprintf("+49301%07d", i)
		sealed[i] = seal(b, id.Recipient(), vault.Personal{CallID: fmt.Sprintf("c%d@x", i), From: "sip:" + num + "@10.0.0.1", To: "sip:2000@10.0.0.2", Numbers: []string{num, "2000"}})
	}
	db := a.Index.DB()
	t0 := time.Now()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	insR, _ := tx.PrepareContext(ctx, `INSERT INTO records (appliance, id, kind, start, class, retain_until, hold, recorded, size, sha256, entry, sealed, subject, received_at) VALUES (?, ?, 'recording', ?, 'default', ?, 0, 1, 1000, ?, '{}', ?, ?, ?)`)
	insF, _ := tx.PrepareContext(ctx, `INSERT INTO search_facts (appliance, id, kind, direction, duration_ms) VALUES (?, ?, 'recording', 'inbound', 60000)`)
	insT, _ := tx.PrepareContext(ctx, `INSERT INTO search_terms (term, appliance, id, kind) VALUES (?, ?, ?, 'recording')`)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		app, rid := fmt.Sprintf("branch-%03d", i%100), fmt.Sprintf("r%08d", i)
		num := i % numbers
		st := start.Add(time.Duration(i) * 30 * time.Second).Format(time.RFC3339Nano)
		if _, err := insR.ExecContext(ctx, app, rid, st, "2033-01-01T00:00:00Z", fmt.Sprintf("%064x", i), sealed[num%pool], sealed[num%pool], st); err != nil {
			b.Fatal(err)
		}
		insF.ExecContext(ctx, app, rid)
		insT.ExecContext(ctx, keys.Term("number", vault.NormalizeNumber(fmt.Sprintf("+49301%07d", num))), app, rid)
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d recordings indexed in %v", n, time.Since(t0))
	// Reference: open every sealed record (per-record cost measured on
	// 2,000 of them, times the archive's size).
	t1 := time.Now()
	const sample = 2000
	for i := 0; i < sample; i++ {
		p, err := keys.Decrypt(sealed[i%pool])
		if err != nil {
			b.Fatal(err)
		}
		var pers vault.Personal
		json.Unmarshal(p, &pers)
	}
	scan := time.Since(t1) / sample * time.Duration(n)
	if _, err := svc.SubjectRecords(ctx, []string{"+493010000001"}); err != nil { // the one-time backfill check
		b.Fatal(err)
	}
	b.ResetTimer()
	var lat []time.Duration
	rng := rand.New(rand.NewPCG(1, 2))
	for range b.N {
		for j := 0; j < 1000; j++ {
			num := fmt.Sprintf("+49301%07d", rng.IntN(min(numbers, n)))
			t := time.Now()
			rs, err := svc.SubjectRecords(ctx, []string{num})
			lat = append(lat, time.Since(t))
			if err != nil || len(rs) == 0 {
				b.Fatalf("lookup %s: %d records, %v", num, len(rs), err)
			}
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
	b.ReportMetric(float64(n), "recordings")
	b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(scan.Seconds(), "scan-s")
	b.ReportMetric(float64(p50)/float64(scan), "ratio")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSeekMinute55: time to the first audio byte of a Range request
// at minute 55 of a 60-minute recording over HTTPS on loopback, never
// played before (cold: the call's plan is made from its first and last
// windows) and played before (warm), and the playback CPU per minute of
// audio (the whole call streamed; client and server in this process).
func BenchmarkSeekMinute55(b *testing.B) {
	e := newEnv(b, nil)
	e.addBox("branch-1", synth.Config{Calls: 1, Duration: time.Hour, Start: e.clock.Now().Add(-2 * time.Hour)})
	id := e.recordings("branch-1")[0]
	c := e.signIn(e.addUser("sup", access.Supervisor, "branch-1"))
	off := 44 + 55*60*8000*4 // 16-bit stereo at 8 kHz
	first := func() time.Duration {
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/v1/recordings/branch-1/%s/audio", e.web, id), nil)
		req.Header.Set("Authorization", "Bearer "+c.token)
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", off))
		t := time.Now()
		resp, err := c.http.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var one [1]byte
		if _, err := io.ReadFull(resp.Body, one[:]); err != nil || resp.StatusCode != http.StatusPartialContent {
			b.Fatalf("%d %v", resp.StatusCode, err)
		}
		d := time.Since(t)
		resp.Body.Close()
		return d
	}
	whole := func() {
		resp, body := c.get(fmt.Sprintf("/api/v1/recordings/branch-1/%s/audio", id))
		if resp.StatusCode != 200 || len(body) < 59*60*8000*4 {
			b.Fatalf("whole call: %d, %d bytes", resp.StatusCode, len(body))
		}
	}
	var cold, warm, cpu time.Duration
	b.ResetTimer()
	for range b.N {
		e.svc.DropCache()
		cold += first()
		warm += first()
		c0 := cpuTime()
		whole()
		cpu += cpuTime() - c0
	}
	b.ReportMetric(float64((cold/time.Duration(b.N)).Microseconds())/1000, "cold-ms")
	b.ReportMetric(float64((warm/time.Duration(b.N)).Microseconds())/1000, "warm-ms")
	b.ReportMetric(float64((cpu/time.Duration(b.N)/60).Microseconds())/1000, "CPU-ms/min")
}

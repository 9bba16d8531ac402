package client_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	gosync "sync"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/spanvault/spanvault/archive/store"
)

// procProfile samples, while a phase of make cluster runs, the CPU time
// (utime+stime, and that of reaped children) of this test process and of
// every process under it (each SeaweedFS role, PostgreSQL with its
// backends), so that a process killed on the way (the volume server) or
// a backend that exits still counts with its last sample.
type procProfile struct {
	mu          gosync.Mutex
	first, last map[int]float64
	label       map[int]string
	stop, done  chan struct{}
	start       time.Time
	wall        time.Duration
	roots       []string       // a process whose command line holds one of these counts too, with its children
	cmdlines    map[int][]byte // read once per process: the sampler reads every process's stat 5 times a second, and its own CPU counts as the test process's
}

// cmdline is pid's command line, read once.
func (p *procProfile) cmdline(pid int) []byte {
	b, ok := p.cmdlines[pid]
	if !ok {
		b, _ = os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		p.cmdlines[pid] = b
	}
	return b
}

// startProcProfile starts sampling this process, its children, and the
// processes (with theirs) whose command line contains one of roots (the
// PostgreSQL server, which pg_ctl detaches).
func startProcProfile(roots ...string) *procProfile {
	p := &procProfile{roots: roots, first: map[int]float64{}, last: map[int]float64{}, label: map[int]string{}, cmdlines: map[int][]byte{}, stop: make(chan struct{}), done: make(chan struct{}), start: time.Now()}
	p.sample(true)
	go func() {
		defer close(p.done)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for tick := 1; ; tick++ {
			select {
			case <-p.stop:
				p.sample(false)
				return
			case <-t.C:
				// The processes already found every 200 ms; all of
				// /proc, for new ones (PostgreSQL backends), every
				// second: the sampler's CPU counts as the test
				// process's and is taken from the run it measures.
				if tick%5 == 0 {
					p.sample(false)
				} else {
					p.sampleKnown()
				}
			}
		}
	}()
	return p
}

// statOf reads a process's parent and CPU seconds (self and reaped
// children). The test process counts its own time only: its children
// (the SeaweedFS roles) are sampled themselves, and the volume server
// it kills and reaps would otherwise count twice, its whole life's CPU
// added to the test process's.
func statOf(pid int) (ppid int, cpu float64, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return 0, 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	var ticks float64
	fields := []int{11, 12, 13, 14}
	if pid == os.Getpid() {
		fields = fields[:2]
	}
	for _, k := range fields {
		v, _ := strconv.ParseFloat(f[k], 64)
		ticks += v
	}
	return ppid, ticks / 100, true // USER_HZ is 100 on Linux
}

func labelOf(pid int) string {
	if pid == os.Getpid() {
		return "test process: 2 front-ends, 20 clients (TLS both ends), floor client"
	}
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	argv := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	switch base := filepath.Base(argv[0]); {
	case base == "weed" && len(argv) > 1:
		role := argv[1]
		for _, a := range argv {
			if strings.HasPrefix(a, "-dir=") {
				role = filepath.Base(strings.TrimPrefix(a, "-dir="))
			}
		}
		return "SeaweedFS " + role
	case strings.HasPrefix(base, "postgres") || strings.Contains(string(b), "postgres:"):
		return "PostgreSQL (postmaster + backends)"
	}
	return ""
}

// sampleKnown samples the processes already found.
func (p *procProfile) sampleKnown() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for pid := range p.label {
		if _, c, ok := statOf(pid); ok {
			p.last[pid] = c
		}
	}
}

func (p *procProfile) sample(first bool) {
	ents, _ := os.ReadDir("/proc")
	parent := map[int]int{}
	cpu := map[int]float64{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp, c, ok := statOf(pid); ok {
			parent[pid], cpu[pid] = pp, c
		}
	}
	rooted := map[int]bool{os.Getpid(): true}
	if len(p.roots) > 0 {
		for pid := range cpu {
			b := p.cmdline(pid)
			for _, r := range p.roots {
				if bytes.Contains(b, []byte(r)) {
					rooted[pid] = true
				}
			}
		}
	}
	under := func(pid int) bool {
		for i := 0; i < 64 && pid > 1; i++ {
			if rooted[pid] {
				return true
			}
			pid = parent[pid]
		}
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for pid, c := range cpu {
		if !under(pid) {
			continue
		}
		if _, seen := p.label[pid]; !seen {
			p.label[pid] = labelOf(pid)
			if first {
				p.first[pid] = c
			}
		}
		p.last[pid] = c
	}
}

// end stops sampling and returns CPU seconds per label.
func (p *procProfile) end() map[string]float64 {
	p.wall = time.Since(p.start)
	close(p.stop)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]float64{}
	for pid, l := range p.label {
		if l == "" {
			continue
		}
		out[l] += p.last[pid] - p.first[pid]
	}
	return out
}

// table formats per-label CPU seconds with their share of the wall time.
func (p *procProfile) table(cpu map[string]float64) string {
	var ls []string
	var sum float64
	for l, c := range cpu {
		ls = append(ls, l)
		sum += c
	}
	sort.Slice(ls, func(i, j int) bool { return cpu[ls[i]] > cpu[ls[j]] })
	var b strings.Builder
	fmt.Fprintf(&b, "  | process | CPU s | cores busy (CPU s / %.1f s wall) |\n  |---|---|---|\n", p.wall.Seconds())
	for _, l := range ls {
		fmt.Fprintf(&b, "  | %s | %.2f | %.2f |\n", l, cpu[l], cpu[l]/p.wall.Seconds())
	}
	fmt.Fprintf(&b, "  | all | %.2f | %.2f |\n", sum, sum/p.wall.Seconds())
	return b.String()
}

// stepTable formats the front-ends' per-step wall time (summed over
// concurrent uploads, so it can exceed the run's wall time).
func stepTable(steps []store.Step, recs int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  | step | calls | total s (all uploads) | ms per call | ms per recording |\n  |---|---|---|---|---|\n")
	for _, s := range steps {
		fmt.Fprintf(&b, "  | %s | %d | %.1f | %.1f | %.1f |\n", s.Name, s.Count, s.Total.Seconds(),
			float64(s.Total.Milliseconds())/float64(max(s.Count, 1)), float64(s.Total.Milliseconds())/float64(max(recs, 1)))
	}
	return b.String()
}

// floorPut writes objects of the given sizes to the bucket the way the
// archive does (create-only, SHA-256 checksum, GOVERNANCE lock, no
// multipart) with a plain minio-go client, workers at once, and returns
// the wall time: the cluster's own throughput, with no archive. split
// writes each as the archive lays a recording out: a 1 KiB object (the
// age header) and then the rest (the payload).
func floorPut(ctx context.Context, mc *minio.Client, bucket, prefix string, sizes []int64, workers int, split bool) (time.Duration, error) {
	var maxSize int64
	for _, n := range sizes {
		maxSize = max(maxSize, n)
	}
	buf := make([]byte, maxSize)
	for i := range buf {
		buf[i] = byte(i*7 + i>>8)
	}
	jobs := make(chan int)
	errs := make(chan error, workers)
	start := time.Now()
	var wg gosync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				parts := [][]byte{buf[:sizes[i]]}
				if split && sizes[i] > 1024 {
					parts = [][]byte{buf[:1024], buf[1024:sizes[i]]}
				}
				for j, b := range parts {
					cs := sha256.Sum256(b)
					opts := minio.PutObjectOptions{ContentType: "application/octet-stream", Mode: minio.Governance,
						RetainUntilDate: time.Now().Add(7 * 24 * time.Hour).UTC(), DisableMultipart: true, DisableContentSha256: true,
						UserMetadata: map[string]string{"x-amz-checksum-sha256": base64.StdEncoding.EncodeToString(cs[:])}}
					opts.SetMatchETagExcept("*")
					if _, err := mc.PutObject(ctx, bucket, fmt.Sprintf("%s/%06d.%d", prefix, i, j), bytes.NewReader(b), int64(len(b)), opts); err != nil {
						select {
						case errs <- err:
						default:
						}
					}
				}
			}
		}()
	}
	for i := range sizes {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	d := time.Since(start)
	select {
	case err := <-errs:
		return d, err
	default:
		return d, nil
	}
}

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// usage is what one whole process cost: CPU (user+system) and peak
// resident memory, from the kernel's accounting (wait4).
type usage struct {
	cpu     time.Duration
	maxRSS  int64 // bytes
	maxAnon int64 // peak of RssAnon, sampled every 10 ms: memory the kernel cannot reclaim
}

func run(name string, args ...string) (usage, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = os.Environ()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return usage{}, err
	}
	var maxAnon atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			if b, err := os.ReadFile(status); err == nil {
				if m := rssAnon.FindSubmatch(b); m != nil {
					kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
					if kb*1024 > maxAnon.Load() {
						maxAnon.Store(kb * 1024)
					}
				}
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	err := cmd.Wait()
	close(stop)
	<-sampled
	if err != nil {
		return usage{}, fmt.Errorf("%s %v: %v\n%s", name, args, err, out.String())
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return usage{
		cpu:     cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(),
		maxRSS:  ru.Maxrss * 1024,
		maxAnon: maxAnon.Load(),
	}, nil
}

var rssAnon = regexp.MustCompile(`RssAnon:\s+(\d+) kB`)

// procFigures are issue 13's whole-process figures: spanvault record on
// sipgen captures against tshark on the same file.
type procFigures struct {
	err         error
	packets     int
	ours        usage // record, 200 concurrent calls, best of 3
	tshark      usage // tshark -q -z rtp,streams on the same file, best of 3
	peak        map[int]usage
	perCall     float64 // bytes, least-squares slope of peak RSS over concurrency
	sequential  usage   // 1,000 calls, 50 at a time
	concurrency []int
}

var framesLine = regexp.MustCompile(`: (\d+) frames`)

func processFigures() *procFigures {
	pf := &procFigures{peak: map[int]usage{}, concurrency: []int{50, 200, 1000}}
	pf.err = pf.measure()
	return pf
}

func (pf *procFigures) measure() error {
	dir, err := os.MkdirTemp("build", "bench-record-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "spanvault")
	gen := filepath.Join(dir, "sipgen")
	for _, b := range [][2]string{{bin, "./cmd/spanvault"}, {gen, "./cmd/sipgen"}} {
		if out, err := exec.Command("go", "build", "-o", b[0], b[1]).CombinedOutput(); err != nil {
			return fmt.Errorf("build %s: %v\n%s", b[1], err, out)
		}
	}
	idFile := filepath.Join(dir, "identity.txt")
	rcpt := filepath.Join(dir, "recipients.txt")
	out, err := exec.Command(bin, "keygen", "-o", idFile).Output()
	if err != nil {
		return fmt.Errorf("keygen: %v", err)
	}
	if err := os.WriteFile(rcpt, out, 0o600); err != nil {
		return err
	}

	capture := func(calls, concurrent int) (string, int, error) {
		path := filepath.Join(dir, fmt.Sprintf("c%d-%d.pcap", calls, concurrent))
		out, err := exec.Command(gen, "-o", path, "-calls", strconv.Itoa(calls), "-concurrent", strconv.Itoa(concurrent), "-duration", "60s").CombinedOutput()
		if err != nil {
			return "", 0, fmt.Errorf("sipgen: %v\n%s", err, out)
		}
		m := framesLine.FindSubmatch(out)
		if m == nil {
			return "", 0, fmt.Errorf("sipgen said %q", out)
		}
		n, _ := strconv.Atoi(string(m[1]))
		return path, n, nil
	}
	record := func(pcap string) (usage, error) {
		v := filepath.Join(dir, "vault")
		defer os.RemoveAll(v)
		return run(bin, "record", "-vault", v, "-recipient", rcpt, pcap)
	}
	best := func(f func() (usage, error)) (usage, error) {
		var b usage
		for i := 0; i < 3; i++ {
			u, err := f()
			if err != nil {
				return u, err
			}
			if i == 0 || u.cpu < b.cpu {
				b = u
			}
		}
		return b, nil
	}

	for _, n := range pf.concurrency {
		pcap, frames, err := capture(n, n)
		if err != nil {
			return err
		}
		u, err := record(pcap)
		if err != nil {
			return err
		}
		pf.peak[n] = u
		if n == 200 {
			pf.packets = frames
			if pf.ours, err = best(func() (usage, error) { return record(pcap) }); err != nil {
				return err
			}
			if ts, err := exec.LookPath("tshark"); err == nil {
				if pf.tshark, err = best(func() (usage, error) { return run(ts, "-q", "-z", "rtp,streams", "-r", pcap) }); err != nil {
					return err
				}
			}
		}
		os.Remove(pcap)
	}
	pcap, _, err := capture(1000, 50)
	if err != nil {
		return err
	}
	u, err := record(pcap)
	if err != nil {
		return err
	}
	pf.sequential = u
	os.Remove(pcap)

	// Least-squares slope of peak memory over open calls.
	var sx, sy, sxx, sxy float64
	for _, n := range pf.concurrency {
		x, y := float64(n), float64(pf.peak[n].maxRSS)
		sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	k := float64(len(pf.concurrency))
	pf.perCall = (k*sxy - sx*sy) / (k*sxx - sx*sx)
	return nil
}

func (pf *procFigures) print(row func(name, val, target string)) {
	if pf.err != nil {
		row("spanvault record as a whole process", "not measured: "+pf.err.Error(), "")
		return
	}
	pps := float64(pf.packets) / pf.ours.cpu.Seconds()
	row("spanvault record, whole process, 200 concurrent 60 s G.711 calls (sealing, hashing, fsync included)",
		fmt.Sprintf("%d packets in %.2f CPU-s: %.0f packets per CPU-second", pf.packets, pf.ours.cpu.Seconds(), pps), ">= 1,600,000")
	if pf.tshark.cpu > 0 {
		row("same capture through tshark -q -z rtp,streams (reference), CPU ratio ours / tshark",
			fmt.Sprintf("%.2f CPU-s; ratio %.3f", pf.tshark.cpu.Seconds(), pf.ours.cpu.Seconds()/pf.tshark.cpu.Seconds()), "<= 0.2")
	}
	mib := func(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
	row("spanvault record peak memory (max RSS; in brackets the peak of anonymous memory) at 50 / 200 / 1,000 concurrent calls",
		fmt.Sprintf("%s (%s) / %s (%s) / %s (%s)", mib(pf.peak[50].maxRSS), mib(pf.peak[50].maxAnon),
			mib(pf.peak[200].maxRSS), mib(pf.peak[200].maxAnon), mib(pf.peak[1000].maxRSS), mib(pf.peak[1000].maxAnon)), "")
	row("memory per open call (slope of max RSS over concurrency)", fmt.Sprintf("%.1f KiB", pf.perCall/1024), "<= 72 KiB")
	s, c := pf.sequential, pf.peak[50]
	row("spanvault record peak memory, 1,000 calls 50 at a time, vs 50 concurrent (RSS; anonymous)",
		fmt.Sprintf("%s: %+.0f %%; %s: %+.0f %% (the rest is the index's file pages, which grow with the calls kept)",
			mib(s.maxRSS), 100*(float64(s.maxRSS)/float64(c.maxRSS)-1), mib(s.maxAnon), 100*(float64(s.maxAnon)/float64(c.maxAnon)-1)), "within 20 %")
}

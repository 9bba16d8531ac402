// Command benchreport runs the project's benchmarks (go test -bench) and
// prints the figures the issues ask for as one table, with tshark timed on
// the same capture as the reference decoder. It is what "make bench" runs;
// with -o it also writes the table, with the date and the machine, into
// the generated section of that document (docs/benchmarks.md).
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"
)

type result map[string]float64 // unit -> value

var line = regexp.MustCompile(`^(Benchmark\S+?)(-\d+)?\s+(\d+)\s+(.*)$`)

func runBench(pkg, pattern, benchtime string, env ...string) (map[string]result, string) {
	return runBenchCPU(pkg, pattern, benchtime, "1", env...)
}

// runBenchCPU runs benchmarks with GOMAXPROCS cpu (what the box has, for
// work the box spreads over its cores).
func runBenchCPU(pkg, pattern, benchtime, cpu string, env ...string) (map[string]result, string) {
	args := []string{"test", "-run", "^$", "-bench", pattern, "-benchmem", "-cpu", cpu, "-benchtime", benchtime, "-timeout", "60m", pkg}
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "benchreport: go %s: %v\n%s", strings.Join(args, " "), err, out.String())
		os.Exit(1)
	}
	res := map[string]result{}
	sc := bufio.NewScanner(bytes.NewReader(out.Bytes()))
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		r := result{}
		f := strings.Fields(m[4])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err == nil {
				r[f[i+1]] = v
			}
		}
		res[m[1]] = r
	}
	return res, out.String()
}

func main() {
	raw := flag.Bool("raw", false, "also print the go test output")
	only := flag.Bool("process", false, "print only the whole-process figures of spanvault record (issue 13)")
	doc := flag.String("o", "", "also write the table into this document's generated section (between "+beginMarker+" and "+endMarker+")")
	flag.Parse()
	if err := os.MkdirAll("build", 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
	if *only {
		fmt.Println("| figure | value | target |")
		fmt.Println("|---|---|---|")
		processFigures().print(func(name, val, target string) { fmt.Printf("| %s | %s | %s |\n", name, val, target) })
		return
	}
	pcap, _ := filepath.Abs(filepath.Join("build", "bench-200calls.pcap"))
	os.Remove(pcap)

	capRes, capOut := runBench("./capture", "PipelineFile|MemoryPerCall|HalfOpenFlood", "3x", "SPANVAULT_BENCH_PCAP="+pcap)
	// A per-packet figure needs millions of iterations, not three.
	steady, steadyOut := runBench("./capture", "RTPSteadyState", "2s")
	capRes["BenchmarkRTPSteadyState"] = steady["BenchmarkRTPSteadyState"]
	capOut += steadyOut
	vRes, vOut := runBench("./vault", "SealG711|FinishRecording|RetentionSweep1M", "1x")
	kRes, kOut := runBench("./vault", "SubjectTagBruteForce", "20x")
	fRes, fOut := runBench("./vault", "FloodCapturePath", "100000x")
	kRes["BenchmarkFloodCapturePath"] = fRes["BenchmarkFloodCapturePath"]
	// The writer goroutine runs beside capture, as on the box's cores.
	csRes, csOut := runBenchCPU("./vault", "CaptureStart", "2000x", fmt.Sprint(runtime.NumCPU()))
	fOut += csOut
	shRes, shOut := runBenchCPU("./vault", "Shutdown20k", "1x", fmt.Sprint(runtime.NumCPU()))
	for k, v := range shRes {
		kRes[strings.TrimSuffix(k, fmt.Sprintf("-%d", runtime.NumCPU()))] = v
	}
	vOut += kOut + fOut + shOut
	sRes, sOut := runBench("./sync/client", "SyncThroughput|SmallRecords|RateCap|Ingest20", "1x")
	// The same ingest with the archive on S3 (versitygw, Object Lock) and
	// with its index in PostgreSQL, as ratios to the directory backend.
	s3Res, s3Out := runBench("./sync/client", "Ingest20", "1x", "SPANVAULT_TEST_STORE=s3")
	pgRes, pgOut := runBench("./sync/client", "Ingest20", "1x", "SPANVAULT_TEST_STORE=s3", "SPANVAULT_TEST_INDEX=postgres")
	sOut += s3Out + pgOut
	aRes, aOut := runBench("./archive/access", "SubjectLookup|SeekMinute55", "1x")
	sOut += aOut
	// The search and recording pages in chromium against 10,000,000
	// recordings in PostgreSQL (issue 23; SPANVAULT_INDEX_ROWS to change).
	pageRows := os.Getenv("SPANVAULT_INDEX_ROWS")
	if pageRows == "" {
		pageRows = "10000000"
	}
	pgPages, pOut := runBench("./archive/access", "Pages", "1x", "SPANVAULT_TEST_INDEX=postgres", "SPANVAULT_INDEX_ROWS="+pageRows)
	sOut += pOut
	// Sign-in runs on every core the access service has.
	siRes, siOut := runBenchCPU("./archive/access", "SignIn$", "1x", strconv.Itoa(runtime.NumCPU()))
	sOut += siOut
	// Sealing per call and per call record, X25519 vs hybrid post-quantum
	// recipients (issue 25), and the key wrap per file.
	pqRes, pqOut := runBench("./vault/agefile", "SealPerCall|Wrap", "2000x")
	vOut += pqOut
	// Evidence bundles (issue 25): size and offline verification time.
	evRes, evOut := runBench("./sync/client", "^BenchmarkEvidence$", "20x")
	sOut += evOut
	// The SeaweedFS cluster (make cluster's test), in this run too.
	clusterSince := time.Now()
	clusterWhy := runCluster()
	proc := processFigures()
	if *raw {
		fmt.Println(capOut)
		fmt.Println(vOut)
		fmt.Println(sOut)
	}

	// tshark on the same file, best of three.
	tsharkTime := time.Duration(0)
	if ts, err := exec.LookPath("tshark"); err == nil {
		for i := 0; i < 3; i++ {
			t0 := time.Now()
			cmd := exec.Command(ts, "-q", "-z", "rtp,streams", "-r", pcap)
			if err := cmd.Run(); err != nil {
				fmt.Fprintln(os.Stderr, "benchreport: tshark:", err)
				break
			}
			if d := time.Since(t0); tsharkTime == 0 || d < tsharkTime {
				tsharkTime = d
			}
		}
	}

	p := capRes["BenchmarkPipelineFile"]
	s := capRes["BenchmarkRTPSteadyState"]
	m := capRes["BenchmarkMemoryPerCall"]
	h := capRes["BenchmarkHalfOpenFlood"]
	seal := vRes["BenchmarkSealG711"]
	fin := vRes["BenchmarkFinishRecording"]
	sw := vRes["BenchmarkRetentionSweep1M"]

	var tb table
	row := tb.row
	row("offline pipeline, pcap to recorder (200 concurrent G.711 calls, 1 core)", fmt.Sprintf("%.0f packets/s", p["pkts/s"]), ">= 1,000,000 packets/s")
	row("RTP packet in steady state (decode, associate, stats, hand-over)", fmt.Sprintf("%.0f ns, %.0f allocs, %.0f B", s["ns/op"], s["allocs/op"], s["B/op"]), "0 allocs")
	if tsharkTime > 0 {
		ours := time.Duration(p["ns/op"])
		row("same capture: ours vs tshark -q -z rtp,streams", fmt.Sprintf("%v vs %v: ratio %.3f", ours.Round(time.Millisecond), tsharkTime.Round(time.Millisecond), float64(ours)/float64(tsharkTime)), "ratio < 1")
	}
	row("memory per concurrent call (1,000 calls with media)", fmt.Sprintf("%.0f bytes", m["bytes/call"]), "")
	row("10,000 half-open dialogs + 50,000 noise packets over 1 h", fmt.Sprintf("peak %.0f live dialogs, peak heap +%.1f MiB", h["peak-dialogs"], h["peak-heap-MiB"]), "bounded")
	row("storage: bytes on disk / raw pcap of the same calls", fmt.Sprintf("%.3f", seal["disk/pcap"]), "<= 0.8")
	row("write amplification (bytes written / bytes captured)", fmt.Sprintf("%.3f", seal["write-amp"]), "")
	row("mean write size (every write but a recording's last is one 64 KiB age chunk)", fmt.Sprintf("%.1f KiB", seal["KiB/write"]), ">= 64 KiB")
	row("fsync per recording (replayed faster than real time; syncer: at most 1/s)", fmt.Sprintf("%.2f", seal["fsync/recording"]), "<= 1/s")
	row("sealed write throughput, 1 core", fmt.Sprintf("%.1f MB/s", seal["MB/s"]), "")
	row("concurrent G.711 calls one core seals and indexes (20 KB/s each)", fmt.Sprintf("%.0f", seal["calls/core"]), "")
	row("index: finishing a recording (one fsynced bbolt transaction)", fmt.Sprintf("%.0f ops/s", fin["finishes/s"]), "")
	row("retention sweep over 1,000,000 entries (half expired)", fmt.Sprintf("%.0f entries examined/s, %.0f deleted/s", sw["examined/s"], sw["deleted/s"]), "")
	row("bbolt file before / after the sweep", fmt.Sprintf("%.0f / %.0f MiB (tombstones and audit entries added; bbolt never shrinks)", sw["db-MiB-before"], sw["db-MiB-after"]), "")

	for _, w := range []string{"call", "record"} {
		x, hy := pqRes["BenchmarkSealPerCall/x25519/"+w], pqRes["BenchmarkSealPerCall/hybrid/"+w]
		what := "a call (3 files: recording, personal metadata, subject)"
		if w == "record" {
			what = "a call record without a recording (2 files)"
		}
		row("sealing CPU for "+what+", 1 core: X25519 vs hybrid post-quantum recipient (agefile.Fast both)", fmt.Sprintf("%.0f vs %.0f µs: ratio %.2f", x["µs/"+w], hy["µs/"+w], hy["µs/"+w]/x["µs/"+w]), "")
	}
	row("key wrap per file, age's recipient vs agefile.Fast: X25519; hybrid (ML-KEM-768 + X25519)", fmt.Sprintf("%.0f vs %.0f µs; %.0f vs %.0f µs", pqRes["BenchmarkWrap/age"]["ns/op"]/1e3, pqRes["BenchmarkWrap/fast"]["ns/op"]/1e3,
		pqRes["BenchmarkWrapHybrid/age"]["ns/op"]/1e3, pqRes["BenchmarkWrapHybrid/fast"]["ns/op"]/1e3), "")
	proc.print(row)
	kt, fl := kRes["BenchmarkSubjectTagBruteForce"], kRes["BenchmarkFloodCapturePath"]
	row("subject-hold tag (argon2id, box-wide salt): a thief's cost per candidate number, and for 10^9", fmt.Sprintf("%.1f ms; %.2f CPU-years", kt["ms/candidate"], kt["CPU-years/1e9"]), ">= 1 CPU-year")
	row("subject-hold check per call (one evaluation, the external number; off the capture path)", fmt.Sprintf("%.1f ms", kt["ms/call"]), "< 50 ms")
	row("INVITE flood into a full tracker with the async writer on a real vault, 1 core", fmt.Sprintf("%.0f INVITEs/s, %.0f records shed", fl["invites/s"], fl["shed"]), ">= 10,000/s")
	cs, ca := csRes["BenchmarkCaptureStart/sync"], csRes["BenchmarkCaptureStart/async"]
	row("a call's start on the capture goroutine (200 open at once): the vault's synchronous Start (index fsync, file, directory fsync) vs the async writer's", fmt.Sprintf("mean %.0f vs %.0f µs, worst %.1f vs %.1f ms", cs["µs/start"], ca["µs/start"], cs["worst-µs"]/1000, ca["worst-µs"]/1000), "no disk wait")
	row("live: highest sustained unanswered-INVITE flood (distinct Call-IDs, measured send rate) at which 40 concurrent sipp calls lose no packet (every call checked against dumpcap; make flood)", liveFlood(), ">= 10,000/s")
	row("live: the same flood aimed at a configured extension (To: 2999): highest rate at which 40 calls lose nothing, and the index's growth per flood INVITE (make flood)", liveExtFlood(), ">= 10,000/s; index bounded (vault.unanswered_per_minute)")
	row(fmt.Sprintf("SIGTERM with 20,000 dialogs held until every call record is sealed and on disk (%d cores)", runtime.NumCPU()), fmt.Sprintf("%.1f s", kRes["BenchmarkShutdown20k"]["shutdown-s"]), "")
	st, sr, rc, ig := sRes["BenchmarkSyncThroughput"], sRes["BenchmarkSmallRecords"], sRes["BenchmarkRateCap"], sRes["BenchmarkIngest20"]
	row("sync throughput on loopback (durable at the archive) vs a plain TLS 1.3 copy of the same bytes", fmt.Sprintf("%.1f vs %.1f MB/s: ratio %.2f", st["MB/s"], st["ref-MB/s"], st["ratio"]), ">= 0.9")
	row("same, vs a TLS 1.3 copy written to one file and fsynced", fmt.Sprintf("%.1f vs %.1f MB/s: ratio %.2f", st["MB/s"], st["disk-ref-MB/s"], st["disk-ratio"]), "")
	row("small records (about 1 KiB call detail records) over one connection", fmt.Sprintf("%.0f records/s", sr["records/s"]), ">= 1,000/s")
	row("bandwidth cap accuracy over a 30 s transfer", fmt.Sprintf("cap %.0f B/s, measured %.0f B/s: %+.1f %%", rc["cap-B/s"], rc["measured-B/s"], rc["error-%"]), "within 5 %")
	row("archive ingest, 20 boxes at once, each with its own certificate", fmt.Sprintf("%.0f recordings/s, %.1f MB/s, archive CPU %.1f ms per MB", ig["recordings/s"], ig["MB/s"], ig["archive-CPU-ms/MB"]), "")
	for _, v := range []struct {
		name string
		r    result
	}{{"same, archive on S3 (versitygw, Object Lock, local loopback)", s3Res["BenchmarkIngest20"]}, {"same, on S3 with the index in PostgreSQL", pgRes["BenchmarkIngest20"]}} {
		if v.r == nil || ig["recordings/s"] == 0 {
			row(v.name, "not measured", "")
			continue
		}
		row(v.name, fmt.Sprintf("%.0f recordings/s, %.1f MB/s: ratio %.2f to the directory backend", v.r["recordings/s"], v.r["MB/s"], v.r["recordings/s"]/ig["recordings/s"]), "")
	}
	ev := evRes["BenchmarkEvidence"]
	row("evidence bundle of a 5-minute G.711 call with an RFC 3161 token: size, added to the sealed recording (proofs, ledger, checkpoint, token); the archive's time to write it", fmt.Sprintf("%.2f MB, +%.1f KiB (token %.0f B); %.0f ms", ev["bundle-B"]/1e6, ev["overhead-B"]/1024, ev["token-B"], ev["write-ms"]), "")
	row("offline verification of that bundle (spanvault verify-evidence: checkpoint, ledger, recording hash, three inclusion proofs, token), 1 core", fmt.Sprintf("%.1f ms", ev["verify-ms"]), "")
	clusterRows(row, clusterFile, clusterSince, clusterWhy)
	sl, sk := aRes["BenchmarkSubjectLookup"], aRes["BenchmarkSeekMinute55"]
	row(fmt.Sprintf("subject lookup by number through the blind index at %.0f recordings (1,000 lookups)", sl["recordings"]),
		fmt.Sprintf("p50 %.3f ms, p99 %.3f ms; opening every sealed record instead: %.0f s; ratio %.1e", sl["p50-ms"], sl["p99-ms"], sl["scan-s"], sl["ratio"]), "")
	row("first audio byte of a Range request at minute 55 of a 60-minute call (HTTPS, loopback): never played / played before", fmt.Sprintf("%.1f ms / %.1f ms", sk["cold-ms"], sk["warm-ms"]), "< 100 ms")
	row("playback CPU per minute of audio (decrypt, parse, decode, render, TLS both ends)", fmt.Sprintf("%.1f ms", sk["CPU-ms/min"]), "")
	if pg := pgPages["BenchmarkPages"]; pg != nil {
		for _, p := range []struct{ key, what string }{{"search-number", "search by number (about 5 hits)"}, {"search-day", "search of a branch's day (up to 200 hits)"}, {"recording", "a recording's page"}} {
			row(fmt.Sprintf("%s at %.0f recordings (PostgreSQL), chromium: first contentful paint p50 / p99; page / with its style, script and picture", p.what, pg["recordings"]),
				fmt.Sprintf("%.0f / %.0f ms; %.1f / %.1f KiB", pg[p.key+"-p50-ms"], pg[p.key+"-p99-ms"], pg[p.key+"-html-KiB"], pg[p.key+"-total-KiB"]), "")
		}
	} else {
		row("search and recording pages at 10,000,000 recordings (PostgreSQL)", "not measured", "")
	}
	si := siRes["BenchmarkSignIn"]
	row("refused sign-in's cost for an unknown / a known / a locked name (p50; p99; one argon2id run each)",
		fmt.Sprintf("%.1f / %.1f / %.1f ms; %.1f / %.1f / %.1f ms; spread %.1f %%; %.1f %%", si["unknown-p50-ms"], si["known-p50-ms"], si["locked-p50-ms"], si["unknown-p99-ms"], si["known-p99-ms"], si["locked-p99-ms"], si["p50-spread-%"], si["p99-spread-%"]), "equal within 10 %")
	legit := "failed"
	if si["legit-ok"] == 1 {
		legit = fmt.Sprintf("signed in (%.0f ms)", si["legit-ms"])
	}
	row(fmt.Sprintf("sign-ins per second under a flood of bogus ones from ever new sources (64 at once, %d cores); the owner meanwhile", runtime.NumCPU()),
		fmt.Sprintf("%.0f/s hashed, %.0f/s answered (%.0f/s shed with 503); owner %s", si["flood-hashed/s"], si["flood-answered/s"], si["flood-shed/s"], legit), "the owner signs in")
	if fOut := fleetFigures(row); *raw {
		fmt.Println(fOut)
	}

	if err := tb.write(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
	if *doc != "" {
		if err := writeSection(*doc, section(&tb, time.Now(), machine())); err != nil {
			fmt.Fprintln(os.Stderr, "benchreport:", err)
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, "benchreport: table written into", *doc)
	}
}

var floodLine = regexp.MustCompile(`lost nothing .*: (\d+)/s`)

// liveFlood runs make flood's measurement (loadtest in a network
// namespace: needs root, sipp and dumpcap) and returns its answer.
func liveFlood() string {
	if why := floodReady(); why != "" {
		return why
	}
	out, err := exec.Command("go", append([]string{"run", "./cmd/loadtest"}, floodArgs...)...).Output()
	m := floodLine.FindSubmatch(out)
	if err != nil || m == nil {
		return fmt.Sprintf("not measured: loadtest: %v", err)
	}
	table := ""
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "| ") && !strings.HasPrefix(l, "| INVITE") {
			f := strings.Split(l, "|")
			table += fmt.Sprintf("; %s/s asked, %s/s sent: %s calls short", strings.TrimSpace(f[1]), strings.TrimSpace(f[2]), strings.TrimSpace(f[10]))
		}
	}
	return string(m[1]) + "/s" + table
}

// floodArgs are make flood's.
var floodArgs = []string{"-bin", "build/spanvault", "-levels", "40", "-hold", "8s", "-flood-rates", "5000,10000,20000,40000"}

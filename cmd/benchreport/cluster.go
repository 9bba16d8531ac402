package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// clusterFile is where make cluster keeps its figures (its last line is
// in go test -bench's format: BenchmarkCluster).
const clusterFile = "build/cluster-figures.txt"

// runCluster runs make cluster's test (TestSeaweedCluster) as part of
// this make bench, so that its row, like the directory's and versitygw's,
// comes from this run: about two minutes here once SeaweedFS is built
// (scripts/install-seaweedfs.sh caches the build). It returns why it did
// not measure, or "".
func runCluster() string {
	cmd := exec.Command("go", "test", "-count=1", "-timeout", "60m", "-run", "^TestSeaweedCluster$", "-v", "./sync/client")
	cmd.Env = append(os.Environ(), "SPANVAULT_CLUSTER=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	switch {
	case bytes.Contains(out.Bytes(), []byte("--- PASS: TestSeaweedCluster")):
		return ""
	case bytes.Contains(out.Bytes(), []byte("--- SKIP: TestSeaweedCluster")):
		return "make cluster's test skipped: SeaweedFS or PostgreSQL missing (make cluster installs them)"
	default:
		fmt.Fprintf(os.Stderr, "benchreport: make cluster's test failed: %v\n%s", err, out.String())
		return "make cluster's test failed (its output is above)"
	}
}

// clusterRows adds the archive's ingest on a real SeaweedFS cluster (make
// cluster: three volume servers, filer, S3 gateway, two front-ends on
// PostgreSQL, a volume server killed mid-ingest) from file
// (build/cluster-figures.txt), which runCluster wrote at or after since;
// a file from before since is an earlier run's, and the row says so
// (why: why this run has none). The ratios are those of that run
// (directory backend and floor measured in the same process).
func clusterRows(row func(name, val, target string), file string, since time.Time, why string) {
	f, err := os.Open(file)
	if err != nil {
		row("same, on a SeaweedFS cluster (make cluster)", "not measured in this run ("+why+"): make cluster writes "+file, "")
		return
	}
	defer f.Close()
	var r result
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil || m[1] != "BenchmarkCluster" {
			continue
		}
		r = result{}
		fs := strings.Fields(m[4])
		for i := 0; i+1 < len(fs); i += 2 {
			if v, err := strconv.ParseFloat(fs[i], 64); err == nil {
				r[fs[i+1]] = v
			}
		}
	}
	if r == nil {
		row("same, on a SeaweedFS cluster (make cluster)", "no BenchmarkCluster line in "+file+": run make cluster again", "")
		return
	}
	when := "this run"
	if fi, err := f.Stat(); err == nil && fi.ModTime().Before(since) {
		when = "NOT this run (" + why + "): the last make cluster, " + fi.ModTime().UTC().Format("2006-01-02 15:04 UTC")
	}
	row("same, on a SeaweedFS cluster (3 volume servers, replication 001, one killed mid-ingest), 2 front-ends on PostgreSQL ("+when+"; ratios within that run)",
		fmt.Sprintf("%.1f recordings/s, %.1f MB/s: ratio %.2f to the directory backend (%.1f MB/s), %.2f to the cluster's floor (plain minio-go, %.1f MB/s), %.2f to the two-object floor (%.1f MB/s)",
			r["recordings/s"], r["MB/s"], r["MB/s"]/r["dir-MB/s"], r["dir-MB/s"], r["MB/s"]/r["floor-MB/s"], r["floor-MB/s"], r["MB/s"]/r["floor2-MB/s"], r["floor2-MB/s"]),
		">= 0.8 of the floor")
}

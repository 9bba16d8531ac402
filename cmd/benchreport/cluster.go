package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// clusterFile is where make cluster keeps its figures (its last line is
// in go test -bench's format: BenchmarkCluster).
const clusterFile = "build/cluster-figures.txt"

// clusterRows adds the archive's ingest on a real SeaweedFS cluster (make
// cluster: three volume servers, filer, S3 gateway, two front-ends on
// PostgreSQL, a volume server killed mid-ingest) from file (build/cluster-figures.txt):
// the cluster needs SeaweedFS built and about two minutes, so make bench
// reads the last run rather than starting one. The ratios are those of
// that run (directory backend and floor measured in the same process).
func clusterRows(row func(name, val, target string), file string) {
	f, err := os.Open(file)
	if err != nil {
		row("same, on a SeaweedFS cluster (make cluster)", "not measured here: make cluster writes "+file, "")
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
	when := ""
	if fi, err := f.Stat(); err == nil {
		when = ", " + fi.ModTime().UTC().Format("2006-01-02 15:04 UTC")
	}
	row("same, on a SeaweedFS cluster (3 volume servers, replication 001, one killed mid-ingest), 2 front-ends on PostgreSQL (make cluster"+when+"; ratios within that run)",
		fmt.Sprintf("%.1f recordings/s, %.1f MB/s: ratio %.2f to the directory backend (%.1f MB/s), %.2f to the cluster's floor (plain minio-go, %.1f MB/s), %.2f to the two-object floor (%.1f MB/s)",
			r["recordings/s"], r["MB/s"], r["MB/s"]/r["dir-MB/s"], r["dir-MB/s"], r["MB/s"]/r["floor-MB/s"], r["floor-MB/s"], r["MB/s"]/r["floor2-MB/s"], r["floor2-MB/s"]),
		">= 0.8 of the floor")
}

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// make bench's cluster row comes from make cluster's figures file,
// written by this run's cluster test; a file from an earlier run is
// named as such.
func TestClusterRows(t *testing.T) {
	file := filepath.Join(t.TempDir(), "cluster-figures.txt")
	var got []string
	row := func(name, val, target string) { got = append(got, name+" | "+val) }
	since := time.Now().Add(-time.Minute)
	clusterRows(row, file, since, "SeaweedFS is not installed")
	if len(got) != 1 || !strings.Contains(got[0], "not measured in this run (SeaweedFS is not installed): make cluster writes") {
		t.Fatalf("without the file: %q", got)
	}
	os.WriteFile(file, []byte("SeaweedFS cluster ...\n  floor ...\nBenchmarkCluster\t1\t24.00 recordings/s\t24.50 MB/s\t30.00 floor-MB/s\t25.00 floor2-MB/s\t70.00 dir-recordings/s\t49.00 dir-MB/s\n"), 0o600)
	got = nil
	clusterRows(row, file, since, "")
	if len(got) != 1 || !strings.Contains(got[0], "(this run;") || !strings.Contains(got[0], "24.0 recordings/s, 24.5 MB/s: ratio 0.50 to the directory backend (49.0 MB/s), 0.82 to the cluster's floor (plain minio-go, 30.0 MB/s), 0.98 to the two-object floor") {
		t.Fatalf("from the file: %q", got)
	}
	// A file from before this run's cluster test: an earlier run's.
	got = nil
	clusterRows(row, file, time.Now().Add(time.Hour), "make cluster's test failed")
	if len(got) != 1 || !strings.Contains(got[0], "NOT this run (make cluster's test failed): the last make cluster, ") {
		t.Fatalf("an earlier run's file: %q", got)
	}
}

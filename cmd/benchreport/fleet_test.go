package main

import (
	"strings"
	"testing"
)

// makeFleetLine is make fleet's line of 2026-12-06 (docs/benchmarks.md).
const makeFleetLine = "BenchmarkFleet-2   \t       1\t1834493267406 ns/op\t       500.0 boxes\t    718568 checkins\t       423.2 checkins/s\t         8.538 enroll-fe-cpu-ms/box\t        48.07 enroll-ms/box\t         3.000 enroll-pg-cpu-ms/box\t         7.000 enroll-sim-min\t      1254 fe-cpu-µs/checkin\t    360500 history-rows\t      1431 page-cold-ms\t       536.0 page-fcp-ms\t       118.6 page-fe-cpu-ms\t      2169 page-kB\t       490.3 page-max-ms\t       406.7 page-p50-ms\t        48.33 page-pg-cpu-ms\t       388.9 page-server-p50-ms\t      1419 pg-cpu-µs/checkin\t       495.0 upd2-confirmed\t        21.00 upd2-covered-min\t         5.000 upd2-failed\t      1278 upd2-fe-cpu-µs/checkin\t        51.00 upd2-min\t      1313 upd2-pg-cpu-µs/checkin\t         6.000 upd2-wave0-min\t         7.000 upd2-wave1-min\t        38.00 upd2-wave2-min\t        46.00 upd3-confirmed\t        14.00 upd3-covered-min\t         3.000 upd3-failed\t      1298 upd3-fe-cpu-µs/checkin\t        44.00 upd3-min\t      1404 upd3-pg-cpu-µs/checkin\t         1.000 upd3-stopped\t         6.000 upd3-wave0-min\t        38.00 upd3-wave1-min\t      2456 update-MB\t        37.29 watch-cpu-ms\t       233.4 watch-ms"

// TestFleetRows: every figure of make fleet's line reaches make bench's
// table (a metric the rows name but the line lacks would print 0).
func TestFleetRows(t *testing.T) {
	r := fleetLine(makeFleetLine)
	if r == nil {
		t.Fatal("the line does not parse")
	}
	var out []string
	fleetRows(func(name, val, target string) { out = append(out, name+" | "+val) }, r, "make fleet")
	all := strings.Join(out, "\n")
	for _, want := range []string{
		"1254 µs + 1419 µs; 423 check-ins/s",
		"389 ms; 1431 ms; 119 + 48 ms; 536 ms",
		"7 min; 8.5 + 3.0 ms",
		"6 / 7 / 38; 21; 51; 495 / 5; 1278 + 1313 µs",
		"44 min; 46 / 3",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("rows lack %q:\n%s", want, all)
		}
	}
}

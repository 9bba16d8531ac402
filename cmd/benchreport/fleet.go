package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// fleetFile is where make fleet keeps its full run's benchmark line.
const fleetFile = "build/fleet-bench.txt"

// fleetFigures runs the fleet simulation at make bench's reduced size
// (archive/access BenchmarkFleet: boxes checking in every simulated
// minute against two front-ends on one PostgreSQL index) and adds its
// rows, and make fleet's full run (500 boxes, a simulated day) when
// build/fleet-bench.txt holds one.
func fleetFigures(row func(name, val, target string)) string {
	res, out := runBench("./archive/access", "Fleet$", "1x", "SPANVAULT_FLEET_BOXES=50", "SPANVAULT_FLEET_MINUTES=60")
	fleetRows(row, res["BenchmarkFleet"], "make bench")
	if f, err := os.Open(fleetFile); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			m := line.FindStringSubmatch(sc.Text())
			if m == nil || m[1] != "BenchmarkFleet" {
				continue
			}
			r := result{}
			fs := strings.Fields(m[4])
			for i := 0; i+1 < len(fs); i += 2 {
				if v, err := strconv.ParseFloat(fs[i], 64); err == nil {
					r[fs[i+1]] = v
				}
			}
			fleetRows(row, r, "make fleet")
		}
	} else {
		row("fleet simulation at full size (500 boxes, a simulated day)", "not measured here: make fleet writes "+fleetFile, "")
	}
	return out
}

func fleetRows(row func(name, val, target string), r result, by string) {
	if r == nil {
		return
	}
	size := fmt.Sprintf("%.0f boxes, %.0f check-ins (%s)", r["boxes"], r["checkins"], by)
	row("fleet: archive CPU per check-in, two front-ends on one PostgreSQL index; front-ends + PostgreSQL; "+size,
		fmt.Sprintf("%.0f µs + %.0f µs; %.0f check-ins/s", r["fe-cpu-µs/checkin"], r["pg-cpu-µs/checkin"], r["checkins/s"]), "")
	row(fmt.Sprintf("fleet page with %.0f boxes and 30 days of history (%.0f hourly rows): render, p50 / worst of 7; size", r["boxes"], r["history-rows"]),
		fmt.Sprintf("%.0f / %.0f ms; %.0f kB", r["page-p50-ms"], r["page-max-ms"], r["page-kB"]), "")
	row(fmt.Sprintf("fleet watch (alerts) over %.0f boxes: wall; CPU", r["boxes"]), fmt.Sprintf("%.0f ms; %.0f ms", r["watch-ms"], r["watch-cpu-ms"]), "")
}

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
			if r := fleetLine(sc.Text()); r != nil {
				fleetRows(row, r, "make fleet")
			}
		}
	} else {
		row("fleet simulation at full size (500 boxes, a simulated day)", "not measured here: make fleet writes "+fleetFile, "")
	}
	return out
}

// fleetLine reads BenchmarkFleet's result line (nil: another line).
func fleetLine(s string) result {
	m := line.FindStringSubmatch(s)
	if m == nil || m[1] != "BenchmarkFleet" {
		return nil
	}
	r := result{}
	fs := strings.Fields(m[4])
	for i := 0; i+1 < len(fs); i += 2 {
		if v, err := strconv.ParseFloat(fs[i], 64); err == nil {
			r[fs[i+1]] = v
		}
	}
	return r
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
	if _, ok := r["page-server-p50-ms"]; ok {
		row(fmt.Sprintf("fleet page with %.0f boxes: server side p50; first view of a front-end (its finished buckets read); CPU per view, front-end + PostgreSQL; first paint in chromium", r["boxes"]),
			fmt.Sprintf("%.0f ms; %.0f ms; %.0f + %.0f ms; %.0f ms", r["page-server-p50-ms"], r["page-cold-ms"], r["page-fe-cpu-ms"], r["page-pg-cpu-ms"], r["page-fcp-ms"]), "")
	}
	row(fmt.Sprintf("fleet watch (alerts) over %.0f boxes: wall; CPU", r["boxes"]), fmt.Sprintf("%.0f ms; %.0f ms", r["watch-ms"], r["watch-cpu-ms"]), "")
	if _, ok := r["enroll-sim-min"]; ok {
		row(fmt.Sprintf("fleet: %.0f boxes enroll zero-touch (own key, code approved, certificates fetched; the archive's rate limits as they are): simulated time; archive CPU per box, front-ends + PostgreSQL", r["boxes"]),
			fmt.Sprintf("%.0f min; %.1f + %.1f ms", r["enroll-sim-min"], r["enroll-fe-cpu-ms/box"], r["enroll-pg-cpu-ms/box"]), "")
	}
	if _, ok := r["upd2-min"]; ok {
		row(fmt.Sprintf("fleet: an update in waves to %.0f boxes (canary, 10 %%, the rest; 1 %% roll back, threshold 5 %%), simulated minutes: canary / wave 1 / wave 2; every box that confirms has; the rollout done; confirmed / failed; archive CPU per check-in meanwhile, front-ends + PostgreSQL", r["boxes"]),
			fmt.Sprintf("%.0f / %.0f / %.0f; %.0f; %.0f; %.0f / %.0f; %.0f + %.0f µs", r["upd2-wave0-min"], r["upd2-wave1-min"], r["upd2-wave2-min"], r["upd2-covered-min"], r["upd2-min"],
				r["upd2-confirmed"], r["upd2-failed"], r["upd2-fe-cpu-µs/checkin"], r["upd2-pg-cpu-µs/checkin"]), "")
	}
	if _, ok := r["upd3-stopped"]; ok {
		row("fleet: an update failing on one box in seven: stopped by itself in wave 1 after (simulated minutes); boxes confirmed / failed by then",
			fmt.Sprintf("%.0f min; %.0f / %.0f", r["upd3-min"], r["upd3-confirmed"], r["upd3-failed"]), "")
	}
}

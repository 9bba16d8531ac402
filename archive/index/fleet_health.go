package index

import (
	"context"
	"time"
)

// Migration 13: fleet_health keeps each box's health per hour (the last
// check-in of the hour, and the extremes within it), 30 days of it
// (PruneHealth), for the fleet page's trends and the archive's alerts.
func init() {
	register(13, "fleet health history", `
CREATE TABLE IF NOT EXISTS fleet_health (
	appliance TEXT NOT NULL,
	hour INTEGER NOT NULL,
	at TEXT NOT NULL,
	backlog INTEGER NOT NULL,
	backlog_min INTEGER NOT NULL,
	backlog_max INTEGER NOT NULL,
	backlog_bytes INTEGER NOT NULL,
	disk_used INTEGER NOT NULL,
	disk_total INTEGER NOT NULL,
	kernel_drops INTEGER NOT NULL,
	clock_synced INTEGER NOT NULL,
	clock_offset DOUBLE PRECISION NOT NULL,
	version TEXT NOT NULL,
	checkins INTEGER NOT NULL,
	PRIMARY KEY (appliance, hour)
);
CREATE INDEX IF NOT EXISTS fleet_health_hour ON fleet_health (hour)`)
}

// HealthKeep is how long RecordHealth's rows are kept.
const HealthKeep = 30 * 24 * time.Hour

// HealthPoint is a box's health in one hour (or, from HealthTrends, in a
// bucket of hours): the last check-in's figures, the backlog's extremes,
// and whether the clock was synchronised at every check-in.
type HealthPoint struct {
	Hour         int64     `json:"hour"` // Unix time / 3600 (the bucket's first hour)
	At           time.Time `json:"at"`
	Backlog      int64     `json:"backlog"`
	BacklogMin   int64     `json:"backlog_min"`
	BacklogMax   int64     `json:"backlog_max"`
	BacklogBytes int64     `json:"backlog_bytes"`
	DiskUsed     int64     `json:"disk_used"`
	DiskTotal    int64     `json:"disk_total"`
	KernelDrops  int64     `json:"kernel_drops"`
	ClockSynced  bool      `json:"clock_synced"`
	ClockOffset  float64   `json:"clock_offset_s"`
	Version      string    `json:"version,omitempty"`
	CheckIns     int64     `json:"checkins"`
}

// HourOf is t's hour number in fleet_health.
func HourOf(t time.Time) int64 { return t.Unix() / 3600 }

// RecordHealth adds a check-in's health to the box's row for its hour.
func (x *Index) RecordHealth(ctx context.Context, name string, p HealthPoint) error {
	synced := 0
	if p.ClockSynced {
		synced = 1
	}
	_, err := x.db.ExecContext(ctx, `INSERT INTO fleet_health (appliance, hour, at, backlog, backlog_min, backlog_max, backlog_bytes, disk_used, disk_total, kernel_drops, clock_synced, clock_offset, version, checkins)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
ON CONFLICT (appliance, hour) DO UPDATE SET at = excluded.at, backlog = excluded.backlog,
	backlog_min = CASE WHEN excluded.backlog < fleet_health.backlog_min THEN excluded.backlog ELSE fleet_health.backlog_min END,
	backlog_max = CASE WHEN excluded.backlog > fleet_health.backlog_max THEN excluded.backlog ELSE fleet_health.backlog_max END,
	backlog_bytes = excluded.backlog_bytes, disk_used = excluded.disk_used, disk_total = excluded.disk_total, kernel_drops = excluded.kernel_drops,
	clock_synced = CASE WHEN excluded.clock_synced < fleet_health.clock_synced THEN excluded.clock_synced ELSE fleet_health.clock_synced END,
	clock_offset = CASE WHEN ABS(excluded.clock_offset) > ABS(fleet_health.clock_offset) THEN excluded.clock_offset ELSE fleet_health.clock_offset END,
	version = excluded.version, checkins = fleet_health.checkins + 1`,
		name, HourOf(p.At), ts(p.At), p.Backlog, p.Backlog, p.Backlog, p.BacklogBytes, p.DiskUsed, p.DiskTotal, p.KernelDrops, synced, p.ClockOffset, p.Version)
	return err
}

// PruneHealth deletes the rows older than HealthKeep before now.
func (x *Index) PruneHealth(ctx context.Context, now time.Time) (int64, error) {
	r, err := x.db.ExecContext(ctx, `DELETE FROM fleet_health WHERE hour < ?`, HourOf(now.Add(-HealthKeep)))
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

// HealthTrends returns every box's health since from, in buckets of
// `hours` hours (1: the stored rows), oldest first: per bucket the
// largest backlog and disk use, the highest drop count, the widest clock
// offset (with its sign), and whether the clock was synchronised throughout.
func (x *Index) HealthTrends(ctx context.Context, from time.Time, hours int64) (map[string][]HealthPoint, error) {
	if hours < 1 {
		hours = 1
	}
	rows, err := x.db.QueryContext(ctx, `SELECT appliance, hour / ? AS b, MAX(at), MAX(backlog), MIN(backlog_min), MAX(backlog_max), MAX(backlog_bytes), MAX(disk_used), MAX(disk_total), MAX(kernel_drops), MIN(clock_synced), MIN(clock_offset), MAX(clock_offset), SUM(checkins)
FROM fleet_health WHERE hour >= ? GROUP BY appliance, b ORDER BY appliance, b`, hours, HourOf(from))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]HealthPoint{}
	for rows.Next() {
		var name, at string
		var p HealthPoint
		var synced int64
		var lo, hi float64
		if err := rows.Scan(&name, &p.Hour, &at, &p.Backlog, &p.BacklogMin, &p.BacklogMax, &p.BacklogBytes, &p.DiskUsed, &p.DiskTotal, &p.KernelDrops, &synced, &lo, &hi, &p.CheckIns); err != nil {
			return nil, err
		}
		p.ClockOffset = hi
		if -lo > hi {
			p.ClockOffset = lo
		}
		p.Hour *= hours
		p.At, p.ClockSynced = parseTS(at), synced == 1
		out[name] = append(out[name], p)
	}
	return out, rows.Err()
}

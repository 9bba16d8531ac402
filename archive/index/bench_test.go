package index_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/archive/index/pgtest"
)

// benchRows is how many generated recordings the query benchmark holds:
// SPANVAULT_INDEX_ROWS (make bench-index sets 10,000,000), else 200,000.
func benchRows() int {
	if n, err := strconv.Atoi(os.Getenv("SPANVAULT_INDEX_ROWS")); err == nil && n > 0 {
		return n
	}
	return 200_000
}

const benchBoxes = 500

var benchT0 = time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)

// genRecord is row i: 500 boxes, spread over seven years, one in a
// thousand on hold, kept seven years.
func genRecord(i int) index.Record {
	r := rand.New(rand.NewPCG(uint64(i), 7))
	start := benchT0.Add(time.Duration(r.Int64N(int64(7 * 365 * 24 * time.Hour))))
	return index.Record{Appliance: fmt.Sprintf("branch-%03d", i%benchBoxes), ID: fmt.Sprintf("%016x", r.Uint64()), Kind: "recording",
		Start: start, Class: "default", RetainUntil: start.AddDate(7, 0, 0), Hold: i%1000 == 0, Recorded: true,
		Size: 1 << 20, SHA256: fmt.Sprintf("%064x", i), Entry: `{"streams":2}`, ReceivedAt: start.Add(24 * time.Hour)}
}

func fillSQLite(b *testing.B, ix *index.Index, n int) {
	ctx := context.Background()
	batch := make([]index.Record, 0, 20000)
	for i := 0; i < n; i++ {
		batch = append(batch, genRecord(i))
		if len(batch) == cap(batch) || i == n-1 {
			if err := ix.PutRecords(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
}

func fillPostgres(b *testing.B, dsn string, n int) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
	i := 0
	_, err = conn.CopyFrom(ctx, pgx.Identifier{"records"},
		[]string{"appliance", "id", "kind", "start", "class", "retain_until", "hold", "recorded", "size", "sha256", "deleted_at", "entry", "received_at"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == n {
				return nil, nil
			}
			r := genRecord(i)
			i++
			return []any{r.Appliance, r.ID, r.Kind, ts(r.Start), r.Class, ts(r.RetainUntil), r.Hold, r.Recorded, r.Size, r.SHA256, "", r.Entry, ts(r.ReceivedAt)}, nil
		}))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "ANALYZE records"); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkIndexQueries: list by appliance and day, by expiry (one day's
// worth), and held recordings, at benchRows generated recordings, on
// SQLite and PostgreSQL; p50 and p99 of 200 queries each.
func BenchmarkIndexQueries(b *testing.B) {
	n := benchRows()
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			var ix *index.Index
			var err error
			if engine == "sqlite" {
				ix, err = index.Open(filepath.Join(b.TempDir(), "index.db"))
				if err == nil {
					fillSQLite(b, ix, n)
				}
			} else {
				dsn := pgtest.Start(b)
				if ix, err = index.Open(dsn); err == nil {
					fillPostgres(b, dsn, n)
				}
			}
			if err != nil {
				b.Fatal(err)
			}
			defer ix.Close()
			ctx := context.Background()
			r := rand.New(rand.NewPCG(1, 2))
			queries := []struct {
				name string
				q    func() index.Query
			}{
				{"appliance-day", func() index.Query {
					d := benchT0.AddDate(0, 0, r.IntN(7*365))
					return index.Query{Appliance: fmt.Sprintf("branch-%03d", r.IntN(benchBoxes)), From: d, To: d.AddDate(0, 0, 1)}
				}},
				{"expiry-day", func() index.Query {
					d := benchT0.AddDate(7, 0, r.IntN(7*365))
					return index.Query{ExpiresAfter: d, ExpiresBy: d.AddDate(0, 0, 1), Limit: 10000}
				}},
				{"hold", func() index.Query { return index.Query{HoldOnly: true, Limit: 1000} }},
			}
			b.ResetTimer()
			for range b.N {
				for _, qq := range queries {
					var lat []time.Duration
					rows := 0
					for range 200 {
						q := qq.q()
						t0 := time.Now()
						got, err := ix.Records(ctx, q)
						lat = append(lat, time.Since(t0))
						if err != nil && err != sql.ErrNoRows {
							b.Fatal(err)
						}
						rows += len(got)
					}
					slices.Sort(lat)
					b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, qq.name+"-p50-ms")
					b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, qq.name+"-p99-ms")
					b.ReportMetric(float64(rows)/200, qq.name+"-rows")
				}
			}
			b.ReportMetric(float64(n), "recordings")
		})
	}
}

package index

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

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
func genRecord(i int) Record {
	r := rand.New(rand.NewPCG(uint64(i), 7))
	start := benchT0.Add(time.Duration(r.Int64N(int64(7 * 365 * 24 * time.Hour))))
	return Record{Appliance: fmt.Sprintf("branch-%03d", i%benchBoxes), ID: fmt.Sprintf("%016x", r.Uint64()), Kind: "recording",
		Start: start, Class: "default", RetainUntil: start.AddDate(7, 0, 0), Hold: i%1000 == 0, Recorded: true,
		Size: 1 << 20, SHA256: fmt.Sprintf("%064x", i), Entry: `{"streams":2}`, ReceivedAt: start.Add(24 * time.Hour)}
}

// tablesOnly keeps the CREATE TABLE statements of a schema: the bulk
// load goes into bare tables and Open then builds the indexes by sorting,
// as a real migration of millions of rows would.
func tablesOnly(schema string) string {
	var b strings.Builder
	for _, st := range strings.Split(schema, ";") {
		if strings.HasPrefix(strings.TrimSpace(st), "CREATE TABLE") {
			b.WriteString(st + ";")
		}
	}
	return b.String()
}

func fillSQLite(b *testing.B, path string, n int) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(OFF)&_pragma=synchronous(OFF)")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(tablesOnly(schema)); err != nil {
		b.Fatal(err)
	}
	for lo := 0; lo < n; lo += 200_000 {
		tx, err := db.Begin()
		if err != nil {
			b.Fatal(err)
		}
		st, err := tx.Prepare(`INSERT INTO records (appliance, id, kind, start, class, retain_until, hold, recorded, size, sha256, deleted_at, entry, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?)`)
		if err != nil {
			b.Fatal(err)
		}
		for i := lo; i < min(lo+200_000, n); i++ {
			r := genRecord(i)
			if _, err := st.Exec(r.Appliance, r.ID, r.Kind, ts(r.Start), r.Class, ts(r.RetainUntil), r.Hold, r.Recorded, r.Size, r.SHA256, r.Entry, ts(r.ReceivedAt)); err != nil {
				b.Fatal(err)
			}
		}
		st.Close()
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := db.Exec("ANALYZE"); err != nil {
		b.Fatal(err)
	}
}

func fillPostgres(b *testing.B, dsn string, n int) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, tablesOnly(pgSchema)); err != nil {
		b.Fatal(err)
	}
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
}

// BenchmarkIndexQueries: list by appliance and day, by expiry (one day's
// worth), and held recordings, at benchRows generated recordings, on
// SQLite and PostgreSQL; p50 and p99 of 200 queries each.
func BenchmarkIndexQueries(b *testing.B) {
	n := benchRows()
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			where := filepath.Join(b.TempDir(), "index.db")
			if engine == "sqlite" {
				fillSQLite(b, where, n)
			} else {
				where = pgtest.Start(b)
				fillPostgres(b, where, n)
			}
			// Open builds the indexes over the loaded rows.
			ix, err := Open(where)
			if err != nil {
				b.Fatal(err)
			}
			defer ix.Close()
			if engine == "postgres" {
				if _, err := ix.db.ExecContext(context.Background(), "ANALYZE records"); err != nil {
					b.Fatal(err)
				}
			}
			ctx := context.Background()
			r := rand.New(rand.NewPCG(1, 2))
			queries := []struct {
				name string
				q    func() Query
			}{
				{"appliance-day", func() Query {
					d := benchT0.AddDate(0, 0, r.IntN(7*365))
					return Query{Appliance: fmt.Sprintf("branch-%03d", r.IntN(benchBoxes)), From: d, To: d.AddDate(0, 0, 1)}
				}},
				{"expiry-day", func() Query {
					d := benchT0.AddDate(7, 0, r.IntN(7*365))
					return Query{ExpiresAfter: d, ExpiresBy: d.AddDate(0, 0, 1), Limit: 10000}
				}},
				{"hold", func() Query { return Query{HoldOnly: true, Limit: 1000} }},
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

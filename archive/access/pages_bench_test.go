package access_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"

	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/vault"
)

// pagesRows is how many recordings BenchmarkPages indexes:
// SPANVAULT_INDEX_ROWS (make bench-pages: 10,000,000), else 100,000.
func pagesRows() int {
	if n, err := strconv.Atoi(os.Getenv("SPANVAULT_INDEX_ROWS")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

// pageSample is what the browser says of one page it opened.
type pageSample struct {
	FCP   float64 // first contentful paint, ms from the navigation's start
	HTML  float64 // bytes of the page itself
	Total float64 // bytes of the page and everything it loaded (uncached)
}

// measurePage reads the page's paint and resource timings in the browser.
const measurePage = `(() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const fcp = performance.getEntriesByType("paint").find(p => p.name == "first-contentful-paint");
  let total = nav.decodedBodySize;
  for (const r of performance.getEntriesByType("resource")) total += r.decodedBodySize;
  return {FCP: fcp ? fcp.startTime : nav.domContentLoadedEventEnd, HTML: nav.decodedBodySize, Total: total};
})()`

// BenchmarkPages: page weight and time to first render of the search and
// recording pages in Debian's chromium against pagesRows indexed
// recordings (make bench-pages: 10,000,000 in PostgreSQL), each with
// sealed metadata, search facts and a number's blind term, spread over
// 20 branches and a year; p50 and p99 of the first contentful paint
// over SPANVAULT_PAGES_SAMPLES (default 100) openings of each page:
// a search by number (about five hits), a branch's day (up to the page's
// 200 hits), and a recording's page.
func BenchmarkPages(b *testing.B) {
	n := pagesRows()
	samples := 100
	if v, err := strconv.Atoi(os.Getenv("SPANVAULT_PAGES_SAMPLES")); err == nil && v > 0 {
		samples = v
	}
	e := newEnv(b, nil)
	// One real call: its sealed file, entry and metadata are what every
	// generated row points to, so that a recording's page and its level
	// picture are those of a real recording.
	e.addBox("branch-000", synth.Config{Calls: 1, Duration: 40 * time.Second, Start: e.clock.Now().Add(-time.Hour), DTMF: "47"})
	real, err := e.a.Index.Records(context.Background(), index.Query{Appliance: "branch-000", Kind: "recording"})
	if err != nil || len(real) != 1 {
		b.Fatalf("the real recording: %v (%d)", err, len(real))
	}
	const pool, numbers, branches = 1000, 2_000_000, 20
	// The pool of sealed metadata: the real call's events (key presses,
	// ...) under numbers of their own.
	var realP vault.Personal
	if pt, err := e.keys.Decrypt(real[0].Sealed); err != nil {
		b.Fatal(err)
	} else if err := json.Unmarshal(pt, &realP); err != nil {
		b.Fatal(err)
	}
	sealed := make([][]byte, pool)
	for i := range sealed {
		num := fmt.Sprintf("+49301%07d", i)
		sealed[i] = seal(b, e.identity.Recipient(), vault.Personal{CallID: fmt.Sprintf("c%d@x", i), From: "sip:" + num + "@10.0.0.1", To: "sip:20001@10.0.0.2", Numbers: []string{num, "20001"}, Events: realP.Events})
	}
	numberOf := func(i int) int { return (i % min(numbers, max(n/5, 1))) }
	// Row i: its number's pool entry (what a hit opens to names the
	// number the row was found by when i < pool numbers).
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	step := 365 * 24 * time.Hour / time.Duration(n)
	row := func(i int) (app, id string, start time.Time, num int) {
		return fmt.Sprintf("branch-%03d", 1+i%(branches-1)), fmt.Sprintf("b%09d", i), t0.Add(time.Duration(i) * step), numberOf(i)
	}
	entry := real[0].Entry
	sha := real[0].SHA256
	term := func(num int) string {
		return e.keys.Term("number", vault.NormalizeNumber(fmt.Sprintf("+49301%07d", num)))
	}
	load := time.Now()
	if strings.HasPrefix(e.a.Config.Index, "postgres") {
		fillPagesPostgres(b, e.a.Config.Index, n, func(i int) (rec, fact, trm []any) {
			app, id, st, num := row(i)
			s := st.Format(time.RFC3339Nano)
			return []any{app, id, "recording", s, "default", "2033-01-01T00:00:00Z", false, true, int64(1 << 20), sha, "", entry, sealed[num%pool], s, ""},
				[]any{app, id, "recording", "inbound", int64(40000)},
				[]any{term(num), app, id, "recording"}
		})
	} else {
		fillPagesSQLite(b, e.a.Index.DB(), n, func(i int) (rec, fact, trm []any) {
			app, id, st, num := row(i)
			s := st.Format(time.RFC3339Nano)
			return []any{app, id, "recording", s, "default", "2033-01-01T00:00:00Z", false, true, int64(1 << 20), sha, "", entry, sealed[num%pool], s, ""},
				[]any{app, id, "recording", "inbound", int64(40000)},
				[]any{term(num), app, id, "recording"}
		})
	}
	b.Logf("%d recordings indexed in %v (entry %d bytes, sealed metadata %d bytes each)", n, time.Since(load), len(entry), len(sealed[0]))

	ctx := browser(b)
	scope := []string{"branch-000"}
	for i := 1; i < branches; i++ {
		name := fmt.Sprintf("branch-%03d", i)
		if _, err := e.a.Enroll(context.Background(), name, filepath.Join(b.TempDir(), name), nil); err != nil {
			b.Fatal(err)
		}
		scope = append(scope, name)
	}
	u := e.addUser("bench", access.Compliance, scope...)
	signInBrowser(b, ctx, e, u)
	r := rand.New(rand.NewPCG(3, 4))
	pages := []struct {
		name string
		url  func() string
		ok   string // what the page shows when it is right
	}{
		{"search-number", func() string {
			return "/search?number=" + url.QueryEscape(fmt.Sprintf("+49301%07d", numberOf(r.IntN(n))))
		}, `document.querySelectorAll("a.rec").length > 0`},
		{"search-day", func() string {
			app, _, st, _ := row(r.IntN(n))
			d := st.Truncate(24 * time.Hour)
			return "/search?branch=" + app + "&from=" + d.Format("2006-01-02") + "&to=" + d.AddDate(0, 0, 1).Format("2006-01-02")
		}, `document.querySelectorAll("a.rec").length > 0`},
		{"recording", func() string {
			app, id, _, _ := row(r.IntN(n))
			return "/r/" + app + "/" + id
		}, `document.querySelectorAll("#picture g.marker").length > 0 && document.getElementById("player") != null`},
	}
	b.ResetTimer()
	for range b.N {
		for _, p := range pages {
			var fcp []float64
			var first pageSample
			var html float64
			for k := range samples {
				target := e.web + p.url()
				do(b, ctx, p.name, chromedp.Navigate(target))
				m := js[pageSample](b, ctx, measurePage)
				if k == 0 {
					first = m // the static files not yet cached
				}
				if !js[bool](b, ctx, p.ok) {
					b.Fatalf("%s does not show what it should (%s): %s", target, p.ok, js[string](b, ctx, `document.body.innerText.slice(0, 300)`))
				}
				fcp = append(fcp, m.FCP)
				html += m.HTML
			}
			slices.Sort(fcp)
			b.ReportMetric(fcp[len(fcp)/2], p.name+"-p50-ms")
			b.ReportMetric(fcp[min(len(fcp)*99/100, len(fcp)-1)], p.name+"-p99-ms")
			b.ReportMetric(html/float64(samples)/1024, p.name+"-html-KiB")
			b.ReportMetric(first.Total/1024, p.name+"-total-KiB")
		}
	}
	b.ReportMetric(float64(n), "recordings")
}

// The columns the bench fills.
var (
	pagesRecordCols = []string{"appliance", "id", "kind", "start", "class", "retain_until", "hold", "recorded", "size", "sha256", "deleted_at", "entry", "sealed", "received_at", "removed_from_box_at"}
	pagesFactCols   = []string{"appliance", "id", "kind", "direction", "duration_ms"}
	pagesTermCols   = []string{"term", "appliance", "id", "kind"}
)

type pagesRow func(i int) (rec, fact, term []any)

// fillPagesPostgres loads the rows with COPY, the tables' secondary
// indexes dropped meanwhile and built again after (as a migration of
// millions of rows would), then ANALYZE.
func fillPagesPostgres(b *testing.B, dsn string, n int, row pagesRow) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('records', 'search_facts', 'search_terms') AND indexname NOT LIKE '%_pkey'`)
	if err != nil {
		b.Fatal(err)
	}
	var defs [][2]string
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			b.Fatal(err)
		}
		defs = append(defs, [2]string{name, def})
	}
	rows.Close()
	for _, d := range defs {
		if _, err := conn.Exec(ctx, `DROP INDEX `+pgx.Identifier{d[0]}.Sanitize()); err != nil {
			b.Fatal(err)
		}
	}
	for _, t := range []struct {
		table string
		cols  []string
		pick  func(rec, fact, term []any) []any
	}{
		{"records", pagesRecordCols, func(r, _, _ []any) []any { return r }},
		{"search_facts", pagesFactCols, func(_, f, _ []any) []any { return f }},
		{"search_terms", pagesTermCols, func(_, _, t []any) []any { return t }},
	} {
		i := 0
		if _, err := conn.CopyFrom(ctx, pgx.Identifier{t.table}, t.cols, pgx.CopyFromFunc(func() ([]any, error) {
			if i == n {
				return nil, nil
			}
			rec, fact, term := row(i)
			i++
			return t.pick(rec, fact, term), nil
		})); err != nil {
			b.Fatalf("copy into %s: %v", t.table, err)
		}
	}
	for _, d := range defs {
		if _, err := conn.Exec(ctx, d[1]); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := conn.Exec(ctx, `ANALYZE`); err != nil {
		b.Fatal(err)
	}
}

// fillPagesSQLite inserts the rows in transactions of 100,000.
func fillPagesSQLite(b *testing.B, db *index.DB, n int, row pagesRow) {
	ctx := context.Background()
	ph := func(k int) string { return "?" + strings.Repeat(", ?", k-1) }
	for lo := 0; lo < n; lo += 100_000 {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		var sts []*sql.Stmt
		for _, t := range []struct {
			table string
			cols  []string
		}{{"records", pagesRecordCols}, {"search_facts", pagesFactCols}, {"search_terms", pagesTermCols}} {
			st, err := tx.PrepareContext(ctx, `INSERT INTO `+t.table+` (`+strings.Join(t.cols, ", ")+`) VALUES (`+ph(len(t.cols))+`)`)
			if err != nil {
				b.Fatal(err)
			}
			sts = append(sts, st)
		}
		for i := lo; i < min(lo+100_000, n); i++ {
			rec, fact, term := row(i)
			for k, args := range [][]any{rec, fact, term} {
				if _, err := sts[k].ExecContext(ctx, args...); err != nil {
					b.Fatal(err)
				}
			}
		}
		for _, st := range sts {
			st.Close()
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}

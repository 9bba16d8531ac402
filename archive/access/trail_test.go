package access_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/archive/anchor"
	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/sync/wire"
)

// trailEnv is an archive whose trail holds a box's ingest, sign-ins,
// plays (rows of accesses), a four-eyes export (a row of requests), all
// anchored in the Merkle log.
func trailEnv(t *testing.T) (e *env, accessRow, requestRow int64) {
	e = newEnv(t, nil)
	e.addBox("branch-1", synth.Config{Calls: 3, Duration: time.Second, Start: e.clock.Now().Add(-time.Hour)})
	recs := e.recordings("branch-1")
	comp := e.signIn(e.addUser("comp", access.Compliance, "branch-1"))
	dpo := e.signIn(e.addUser("dpo", access.DPO))
	for _, id := range recs {
		if resp, _ := comp.get("/api/v1/recordings/branch-1/" + id + "/audio"); resp.StatusCode != 200 {
			t.Fatalf("play: %d", resp.StatusCode)
		}
	}
	var req access.Request
	if st, body := comp.do("POST", "/api/v1/requests", access.RequestInput{Kind: access.ReqExport, Appliance: "branch-1", Recording: recs[0], Reason: "regulator"}, &req); st != 202 {
		t.Fatal(st, body)
	}
	if st, body := dpo.do("POST", fmt.Sprintf("/api/v1/requests/%d/approve", req.ID), nil, nil); st != 200 {
		t.Fatal(st, body)
	}
	for i := 0; i < 60; i++ {
		e.clock.Add(time.Second)
		if st, body := comp.do("GET", "/api/v1/recordings?from=2000-01-01T00:00:00Z", nil, nil); st != 200 {
			t.Fatal(st, body)
		}
	}
	e.svc.AnchorTrail(context.Background())
	db := e.a.Index.DB()
	if err := db.QueryRowContext(context.Background(), `SELECT MIN(id) FROM accesses`).Scan(&accessRow); err != nil {
		t.Fatal(err)
	}
	return e, accessRow, req.ID
}

// copyArchive copies the archive's directory and a consistent copy of its
// SQLite index (VACUUM INTO), and opens the copy.
func copyArchive(t *testing.T, e *env) *archive.Archive {
	t.Helper()
	if e.a.Index.DB().Postgres() {
		t.Skip("the copy is of a SQLite index")
	}
	dst := filepath.Join(t.TempDir(), "copy")
	err := filepath.Walk(e.dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(e.dir, p)
		if strings.HasPrefix(rel, "index.db") {
			return nil
		}
		if fi.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(filepath.Join(dst, rel), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fi.Mode().Perm())
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.a.Index.DB().ExecContext(context.Background(), `VACUUM INTO ?`, filepath.Join(dst, "index.db")); err != nil {
		t.Fatal(err)
	}
	a, err := archive.Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// rewriteTrail does what an attacker with SQL access to the index does:
// it deletes the entries from..from+n-1 of the archive's trail, numbers
// the later ones down and recomputes the plain SHA-256 chain from there
// (the same hash the index computes).
func rewriteTrail(t *testing.T, db *index.DB, from, n int64) {
	t.Helper()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `DELETE FROM events WHERE id >= ? AND id < ?`, from, from+n); err != nil {
		t.Fatal(err)
	}
	type row struct {
		id                                    int64
		tm, kind, actor, app, detail, prevOld string
		alert                                 bool
	}
	rows, err := db.QueryContext(ctx, `SELECT id, time, kind, actor, appliance, detail, alert, prev FROM events WHERE id >= ? ORDER BY id`, from)
	if err != nil {
		t.Fatal(err)
	}
	var rs []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.tm, &r.kind, &r.actor, &r.app, &r.detail, &r.alert, &r.prevOld); err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	rows.Close()
	var prev string
	if err := db.QueryRowContext(ctx, `SELECT hash FROM events WHERE id = ?`, from-1).Scan(&prev); err != nil {
		t.Fatal(err)
	}
	for i, r := range rs {
		id := from + int64(i)
		h := sha256.New()
		fmt.Fprintf(h, "%d\x00%s\x00%s\x00%s\x00%s\x00%s\x00%v\x00%s", id, r.tm, r.kind, r.actor, r.app, r.detail, r.alert, prev)
		hash := hex.EncodeToString(h.Sum(nil))
		if _, err := db.ExecContext(ctx, `UPDATE events SET id = ?, prev = ?, hash = ? WHERE id = ?`, id, prev, hash, r.id); err != nil {
			t.Fatal(err)
		}
		prev = hash
	}
}

func problems(t *testing.T, a *archive.Archive) string {
	t.Helper()
	rep, err := a.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(rep.Problems, "\n")
}

// TestTrailRewriteDetected: deleting 21 entries of the archive's own
// trail and recomputing the plain hash chain, in a copy of the index as
// an attacker with SQL access would, fails verify (spanvault-archive
// verify's code path) and the auditor's API, naming the first missing
// entry: the trail's heads are in the Merkle log under a signed
// checkpoint. The original passes.
func TestTrailRewriteDetected(t *testing.T) {
	e, _, _ := trailEnv(t)
	if p := problems(t, e.a); p != "" {
		t.Fatalf("the original fails verify:\n%s", p)
	}
	auditor := e.signIn(e.addUser("auditor", access.Auditor))
	var out struct {
		Chain string `json:"chain"`
	}
	if st, body := auditor.do("GET", "/api/v1/audit", nil, &out); st != 200 || !strings.HasPrefix(out.Chain, "chain intact") {
		t.Fatalf("audit API on the original: %d %s", st, body)
	}

	want := "archive trail entry 17 missing or altered"
	if !e.a.Index.DB().Postgres() {
		cp := copyArchive(t, e)
		if n, err := cp.Index.VerifyEvents(context.Background()); err != nil || n < 60 {
			t.Fatalf("copy: %d entries, %v", n, err)
		}
		rewriteTrail(t, cp.Index.DB(), 17, 21)
		if _, err := cp.Index.VerifyEvents(context.Background()); err != nil {
			t.Fatalf("the rewritten plain chain should verify on its own: %v", err)
		}
		if p := problems(t, cp); !strings.Contains(p, want) {
			t.Fatalf("verify of the rewritten copy: want %q, got:\n%s", want, p)
		}
	}

	// The same rewrite in the served index: verify and the auditor's API
	// say so.
	rewriteTrail(t, e.a.Index.DB(), 17, 21)
	if st, _ := auditor.do("GET", "/api/v1/audit", nil, &out); st != 200 || !strings.Contains(out.Chain, want) {
		t.Fatalf("audit API after the rewrite: want %q, got %d %s", want, st, out.Chain)
	}
	if p := problems(t, e.a); !strings.Contains(p, want) {
		t.Fatalf("verify of the rewritten index: want %q, got:\n%s", want, p)
	}
}

// TestTrailTablesCrossChecked: deleting the row of accesses that says who
// played a recording, or the row of requests that shows an approved
// export, fails verify: each is in the chained trail; so does a row
// written behind the trail.
func TestTrailTablesCrossChecked(t *testing.T) {
	e, accessRow, requestRow := trailEnv(t)
	cp := copyArchive(t, e)
	ctx := context.Background()
	if _, err := cp.Index.DB().ExecContext(ctx, `DELETE FROM accesses WHERE id = ?`, accessRow); err != nil {
		t.Fatal(err)
	}
	if _, err := cp.Index.DB().ExecContext(ctx, `DELETE FROM requests WHERE id = ?`, requestRow); err != nil {
		t.Fatal(err)
	}
	// And rows written behind the trail: an access nobody made, an
	// export approved by nobody.
	var fakeAccess, fakeRequest int64
	if err := cp.Index.DB().QueryRowContext(ctx, `INSERT INTO accesses (time, name, action, appliance, recording) VALUES (?, 'comp', 'play', 'branch-1', 'x') RETURNING id`, time.Now().UTC().Format(time.RFC3339Nano)).Scan(&fakeAccess); err != nil {
		t.Fatal(err)
	}
	if err := cp.Index.DB().QueryRowContext(ctx, `INSERT INTO requests (action, target, reason, requested_by, requested_at, decided_by, decided_at, state) VALUES ('export', '{}', 'x', 'comp', '', 'dpo', '', 'done') RETURNING id`).Scan(&fakeRequest); err != nil {
		t.Fatal(err)
	}
	p := problems(t, cp)
	for _, want := range []string{
		fmt.Sprintf("accesses row %d missing or altered", accessRow), fmt.Sprintf("requests row %d missing or altered", requestRow),
		fmt.Sprintf("accesses row %d is not in the trail", fakeAccess), fmt.Sprintf("requests row %d is not in the trail", fakeRequest),
	} {
		if !strings.Contains(p, want) {
			t.Fatalf("verify after deleting rows: want %q, got:\n%s", want, p)
		}
	}
}

// TestTrailLogRewriteDetected: an attacker who, beside the trail, also
// rewrites the anchor log's records and recomputes its stored hashes so
// that the log agrees with the rewritten trail cannot sign the new tree:
// verify finds the kept checkpoints no longer match, and the archive
// refuses to sign a head of the rewritten log.
func TestTrailLogRewriteDetected(t *testing.T) {
	e, _, _ := trailEnv(t)
	cp := copyArchive(t, e)
	ctx := context.Background()
	db := cp.Index.DB()
	rewriteTrail(t, db, 17, 21)
	es, err := cp.Index.Events(ctx, "", false)
	if err != nil {
		t.Fatal(err)
	}
	// Rebuild the log: the trail's records now carry the rewritten
	// heads (those past the new end are dropped), every hash recomputed.
	type rec struct {
		app  string
		seq  int64
		text []byte
	}
	rows, err := db.QueryContext(ctx, `SELECT appliance, seq, text FROM anchor_records ORDER BY n`)
	if err != nil {
		t.Fatal(err)
	}
	var rs []rec
	for rows.Next() {
		var r rec
		rows.Scan(&r.app, &r.seq, &r.text)
		if r.app == cp.TrailName() {
			if r.seq > int64(len(es)) {
				continue
			}
			r.text = wire.AnchorText(r.app, uint64(r.seq), es[r.seq-1].Hash)
		}
		rs = append(rs, r)
	}
	rows.Close()
	db.ExecContext(ctx, `DELETE FROM anchor_records`)
	db.ExecContext(ctx, `DELETE FROM anchor_hashes`)
	var mem []tlog.Hash
	for n, r := range rs {
		hs, err := tlog.StoredHashes(int64(n), r.text, memHashes(mem))
		if err != nil {
			t.Fatal(err)
		}
		mem = append(mem, hs...)
		if _, err := db.ExecContext(ctx, `INSERT INTO anchor_records (n, appliance, seq, text) VALUES (?, ?, ?, ?)`, n, r.app, r.seq, r.text); err != nil {
			t.Fatal(err)
		}
	}
	for i, h := range mem {
		if _, err := db.ExecContext(ctx, `INSERT INTO anchor_hashes (idx, hash) VALUES (?, ?)`, i, h[:]); err != nil {
			t.Fatal(err)
		}
	}
	p := problems(t, cp)
	if !strings.Contains(p, "anchor log truncated") && !strings.Contains(p, "anchor log rewritten") {
		t.Fatalf("verify of a rewritten trail and log: got:\n%s", p)
	}
	if _, _, _, err := cp.Log.Checkpoint(ctx); !errors.Is(err, anchor.ErrInconsistent) {
		t.Fatalf("the archive signed a head of the rewritten log: %v", err)
	}
}

type memHashes []tlog.Hash

func (m memHashes) ReadHashes(ix []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(ix))
	for i, x := range ix {
		out[i] = m[x]
	}
	return out, nil
}

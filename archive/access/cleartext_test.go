package access_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/archive/index/pgtest"
	"github.com/spanvault/spanvault/capture/synth"
)

// TestNoCleartext: after sign-ins, searches by number, playback, links,
// subject reports and a subject erasure, neither the index database, nor
// the logs, nor any answer to an unauthorised request holds a number, a
// caller's name or a Call-ID in clear.
func TestNoCleartext(t *testing.T) {
	e := newEnv(t, nil)
	start := e.clock.Now().Add(-time.Hour)
	e.addBox("branch-1", synth.Config{Calls: 14, Concurrent: 4, Duration: 2 * time.Second, Start: start})
	e.addBox("branch-2", synth.Config{Calls: 14, Concurrent: 4, Duration: 2 * time.Second, Start: start})
	// Everything personal the boxes recorded, as they sealed it.
	var secrets []string
	for i := 0; i < 14; i++ {
		num := number(i)
		secrets = append(secrets, num, strings.TrimPrefix(num, "+"), fmt.Sprintf("Caller %d", i))
		for _, b := range e.boxes {
			rep, err := b.v.Report(num, []age.Identity{e.identity})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rep.Recordings {
				secrets = append(secrets, r.Personal.CallID)
			}
		}
	}
	comp := e.signIn(e.addUser("comp", access.Compliance, "branch-1"))
	dpo := e.signIn(e.addUser("dpo", access.DPO))
	dpo2 := e.signIn(e.addUser("dpo2", access.DPO))
	crm := e.signIn(e.addUser("crm", access.CRM, "branch-1"))
	sup2 := e.signIn(e.addUser("sup2", access.Supervisor, "branch-2"))
	var hits struct {
		Recordings []access.Hit `json:"recordings"`
	}
	if st, body := comp.do("GET", "/api/v1/recordings?number="+url.QueryEscape(number(12)), nil, &hits); st != 200 || len(hits.Recordings) != 1 {
		t.Fatalf("search by number: %d %s", st, body)
	}
	id := hits.Recordings[0].ID
	if hits.Recordings[0].Personal == nil || !strings.Contains(hits.Recordings[0].Personal.From, strings.TrimPrefix(number(12), "+")) {
		t.Fatal("the authorised search does not show the number")
	}
	comp.get("/api/v1/recordings/branch-1/" + id + "/audio")
	dpo.do("POST", "/api/v1/subject", access.SubjectQuery{Numbers: []string{number(12), number(13)}}, nil)
	var req access.Request
	dpo.do("POST", "/api/v1/requests", access.RequestInput{Kind: access.ReqBulk, Numbers: []string{number(11)}, Reason: "Art. 17"}, &req)
	dpo2.do("POST", fmt.Sprintf("/api/v1/requests/%d/approve", req.ID), nil, nil)
	var l access.Link
	crm.do("POST", "/api/v1/links", access.MintLink{Recording: id, TTL: "5m"}, &l)

	// Unauthorised: no session, a wrong role, a wrong branch, a dead link.
	var answers bytes.Buffer
	anon := &api{e: e, http: e.httpClient()}
	keep := func(st int, body string) { fmt.Fprintf(&answers, "%d %s\n", st, body) }
	keepResp := func(resp *http.Response, body []byte) {
		for k, v := range resp.Header {
			fmt.Fprintf(&answers, "%s: %s\n", k, strings.Join(v, ","))
		}
		if resp.Header.Get("Content-Type") != "audio/wav" {
			answers.Write(body)
		}
	}
	keep(anon.do("GET", "/api/v1/recordings?number="+url.QueryEscape(number(12)), nil, nil))
	keep(anon.do("GET", "/api/v1/recordings/branch-1/"+id, nil, nil))
	keep(anon.do("POST", "/api/v1/subject", access.SubjectQuery{Numbers: []string{number(12)}}, nil))
	keep(crm.do("GET", "/api/v1/recordings?number="+url.QueryEscape(number(12)), nil, nil))
	keep(crm.do("GET", "/api/v1/recordings/branch-1/"+id, nil, nil))
	keep(sup2.do("GET", "/api/v1/recordings/branch-1/"+id, nil, nil))
	keep(sup2.do("GET", "/api/v1/recordings?branch=branch-1&number="+url.QueryEscape(number(12)), nil, nil))
	keep(comp.do("POST", "/api/v1/subject", access.SubjectQuery{Numbers: []string{number(12)}}, nil))
	keepResp(anon.get(l.URL))
	keepResp(anon.get("/l/" + l.ID + ".00"))
	keepResp(anon.get("/search?number=" + url.QueryEscape(number(12))))
	keepResp(anon.get("/r/branch-1/" + id))

	// The database as it is on disk (SQLite: the file and its WAL), or a
	// dump of PostgreSQL's.
	var db bytes.Buffer
	if dsn := e.a.Config.Index; strings.HasPrefix(dsn, "postgres") {
		f := filepath.Join(t.TempDir(), "dump")
		pgtest.Dump(t, dsn, f)
		b, _ := os.ReadFile(f)
		db.Write(b)
	} else {
		for _, f := range []string{"index.db", "index.db-wal"} {
			b, _ := os.ReadFile(filepath.Join(e.dir, f))
			db.Write(b)
		}
	}
	if db.Len() < 10000 {
		t.Fatalf("database: %d bytes", db.Len())
	}
	for name, hay := range map[string]string{"database": db.String(), "logs": e.logs.String(), "unauthorised answers": answers.String()} {
		for _, s := range secrets {
			if s != "" && strings.Contains(hay, s) {
				i := strings.Index(hay, s)
				t.Errorf("%s hold %q in clear: ...%q...", name, s, hay[max(0, i-80):min(len(hay), i+80)])
			}
		}
	}
	// And the scan can fail: the authorised answer does hold them.
	_, body := comp.do("GET", "/api/v1/recordings?number="+url.QueryEscape(number(12)), nil, nil)
	if !strings.Contains(body, strings.TrimPrefix(number(12), "+")) {
		t.Fatal("scan self-check: the authorised answer lacks the number")
	}
	_ = io.EOF
}

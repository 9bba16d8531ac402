package access_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/capture/synth"
)

// TestSearchPeopleCanUse: a number typed the way people write it finds
// the call; "to" a day includes that day; a page says how many there are
// in all; the direction the box could not place (no extensions there) is
// placed by the archive's extensions; the page offers only the reader's
// branches.
func TestSearchPeopleCanUse(t *testing.T) {
	e := newEnv(t, func(c *archive.Config) {
		c.Access.PhoneRegion = "DE"
		c.Access.Extensions = []string{"2xxxx"}
	})
	start := e.clock.Now().Add(-3 * time.Hour).Truncate(time.Hour)
	// The box has no capture.extensions: it calls every call "external".
	e.addBox("branch-1", synth.Config{Calls: 12, Concurrent: 4, Duration: 2 * time.Second, Start: start})
	e.addBox("branch-2", synth.Config{Calls: 2, Duration: 2 * time.Second, Start: start})
	c := e.signIn(e.addUser("comp", access.Compliance, "branch-1"))
	type reply struct {
		Recordings []access.Hit `json:"recordings"`
		Total      *int         `json:"total"`
	}
	search := func(q string) reply {
		t.Helper()
		var out reply
		if st, body := c.do("GET", "/api/v1/recordings?"+q, nil, &out); st != 200 {
			t.Fatalf("%s: %d %s", q, st, body)
		}
		return out
	}
	// Call 2 is from +49 30 5550002.
	for _, n := range []string{"+49 30 5550002", "030 5550002", "0049 30 5550002", "0305550002"} {
		if got := len(search("number=" + url.QueryEscape(n)).Recordings); got != 1 {
			t.Errorf("number %q finds %d recordings, want 1", n, got)
		}
	}
	day := start.Format("2006-01-02")
	if got := len(search("from=" + day + "&to=" + day).Recordings); got != 12 {
		t.Errorf("from %s to %s (that day included) finds %d recordings, want 12", day, day, got)
	}
	r := search("limit=5&offset=10")
	if r.Total == nil || *r.Total != 12 || len(r.Recordings) != 2 {
		total := -1
		if r.Total != nil {
			total = *r.Total
		}
		t.Errorf("limit 5 from 10: %d recordings of total %d, want 2 of 12", len(r.Recordings), total)
	}
	if got := len(search("direction=inbound").Recordings); got != 12 {
		t.Errorf("direction=inbound finds %d recordings, want 12 (calls to the branch's extensions 2xxxx)", got)
	}
	if n := e.events("search", "comp", ": 12 results"); n == 0 {
		t.Error("searches with their total are not audited")
	}
	// Erased calls are listed, never found by their number.
	if st, body := c.do("GET", "/api/v1/recordings?show=erased&number="+url.QueryEscape("030 5550002"), nil, nil); st != 400 {
		t.Errorf("erased recordings by number: %d %s, want 400", st, body)
	}
	if st, body := c.do("GET", "/api/v1/recordings?show=erased", nil, nil); st != 200 {
		t.Errorf("erased recordings: %d %s", st, body)
	}
	// A subject access report by the national form finds the call too.
	dpo := e.signIn(e.addUser("dora", access.DPO))
	var rep access.SubjectReport
	if st, body := dpo.do("POST", "/api/v1/subject", access.SubjectQuery{Numbers: []string{"030 5550002"}}, &rep); st != 200 || len(rep.Items) != 1 {
		t.Errorf("subject report for 030 5550002: %d, %d items, want 1: %s", st, len(rep.Items), body)
	}
	// The page: the count in words, the branches in scope only.
	resp, body := c.get("/search?to=" + day)
	page := string(body)
	if resp.StatusCode != 200 || !strings.Contains(page, "Found 12 recordings") || !strings.Contains(page, "<option>branch-1</option>") || strings.Contains(page, "branch-2") {
		t.Errorf("search page: %d, want the total, branch-1 and not branch-2 offered:\n%s", resp.StatusCode, between(page, "<main", "</main>"))
	}
}

// TestDirectionReplacedWhenExtensionsSet: calls indexed before
// access.extensions were set (all "external": their box had none) are
// placed once the archive is told the branch's extensions.
func TestDirectionReplacedWhenExtensionsSet(t *testing.T) {
	e := newEnv(t, nil)
	e.addBox("branch-1", synth.Config{Calls: 3, Duration: 2 * time.Second, Start: e.clock.Now().Add(-time.Hour)})
	c := e.signIn(e.addUser("comp", access.Compliance, "branch-1"))
	count := func(q string) int {
		t.Helper()
		var out struct {
			Recordings []access.Hit `json:"recordings"`
		}
		if st, body := c.do("GET", "/api/v1/recordings?"+q, nil, &out); st != 200 {
			t.Fatalf("%s: %d %s", q, st, body)
		}
		return len(out.Recordings)
	}
	if n := count("direction=external"); n != 3 {
		t.Fatalf("before: %d external, want 3", n)
	}
	// The archive restarts with the branch's extensions configured.
	e.a.Config.Access.Extensions = []string{"2xxxx"}
	if _, err := access.New(e.a, e.keys).IndexPending(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := count("direction=inbound"); n != 3 {
		t.Errorf("after setting access.extensions: %d inbound, want 3", n)
	}
}

package access_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/vault"
)

// twoBranches is an archive with two boxes running the same generator
// (number(i) called on both), for the authorization tests.
func twoBranches(t *testing.T, edit func(*archive.Config)) *env {
	t.Helper()
	e := newEnv(t, edit)
	start := e.clock.Now().Add(-3 * time.Hour)
	e.addBox("branch-1", synth.Config{Calls: 14, Concurrent: 4, Duration: 2 * time.Second, Start: start})
	e.addBox("branch-2", synth.Config{Calls: 14, Concurrent: 4, Duration: 2 * time.Second, Start: start.Add(time.Minute)})
	return e
}

// onBranch: the IDs of a number's recordings the boxes hold on a branch.
func (e *env) onBranch(t *testing.T, num, branch string) []string {
	held, _ := e.boxTruth(t, num)
	var out []string
	for _, h := range held {
		if id, ok := strings.CutPrefix(h, branch+"/"); ok {
			out = append(out, id)
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s holds no recording of %s", branch, num)
	}
	return out
}

// defaultClass: a recording of a branch without a legal retention duty.
func (e *env) defaultClass(t *testing.T, branch string, skip int) string {
	for _, id := range e.recordings(branch) {
		rs, _ := e.a.Index.Records(t.Context(), indexOne(branch, id))
		if rs[0].Class == "default" {
			if skip == 0 {
				return id
			}
			skip--
		}
	}
	t.Fatalf("no erasable recording left on %s", branch)
	return ""
}

// requestJSON reads one request from the list as the reader sees it, raw.
func requestJSON(t *testing.T, c *api, id int64) map[string]any {
	t.Helper()
	var list struct {
		Requests []map[string]any `json:"requests"`
	}
	if st, body := c.do("GET", "/api/v1/requests", nil, &list); st != 200 {
		t.Fatal(st, body)
	}
	for _, r := range list.Requests {
		if int64(r["id"].(float64)) == id {
			return r
		}
	}
	t.Fatalf("request %d not listed for the reader", id)
	return nil
}

// TestBulkErasureKeepsToScope (issue 20 finding 1): two DPOs scoped to
// branch-1 file and approve an erasure by subject; the subject's
// recordings on branch-2 stay on the box and at the archive.
func TestBulkErasureKeepsToScope(t *testing.T) {
	e := twoBranches(t, nil)
	x := number(12)
	other := e.onBranch(t, x, "branch-2")
	mine := e.onBranch(t, x, "branch-1")
	d1 := e.signIn(e.addUser("dpo-a", access.DPO, "branch-1"))
	d2 := e.signIn(e.addUser("dpo-b", access.DPO, "branch-1"))
	var req access.Request
	if st, body := d1.do("POST", "/api/v1/requests", access.RequestInput{Kind: access.ReqBulk, Numbers: []string{x}, Reason: "Art. 17 request 77"}, &req); st != 202 {
		t.Fatal(st, body)
	}
	if st, body := d2.do("POST", fmt.Sprintf("/api/v1/requests/%d/approve", req.ID), nil, nil); st != 200 {
		t.Fatal(st, body)
	}
	for i := 0; i < 2; i++ {
		e.sync(e.boxes["branch-1"])
		e.sync(e.boxes["branch-2"])
	}
	for _, id := range other {
		if en, err := e.boxes["branch-2"].v.Get(id); err != nil || en.State == vault.StateErased {
			t.Fatalf("branch-2's box lost %s to an erasure filed and approved by DPOs of branch-1 (%v)", id, err)
		}
		if rs, _ := e.a.Index.Records(t.Context(), indexOne("branch-2", id)); len(rs) != 1 || !rs[0].DeletedAt.IsZero() {
			t.Fatalf("the archive erased branch-2/%s for DPOs of branch-1", id)
		}
	}
	for _, id := range mine {
		if en, err := e.boxes["branch-1"].v.Get(id); err == nil && en.State != vault.StateErased {
			t.Fatalf("branch-1/%s not erased (%s)", id, en.State)
		}
	}
}

// TestRoleChangeKeepsScope (finding 2): an approved role change cannot
// make a supervisor unscoped (who would then hear another branch), and
// an admin scoped to branch-1 cannot grant branch-2.
func TestRoleChangeKeepsScope(t *testing.T) {
	e := twoBranches(t, nil)
	victim := e.addUser("sup", access.Supervisor, "branch-1")
	a1 := e.signIn(e.addUser("adm-1", access.Admin))
	a2 := e.signIn(e.addUser("adm-2", access.Admin))
	var rc access.Request
	st, body := a1.do("POST", "/api/v1/requests", access.RequestInput{Kind: access.ReqRole, User: "sup", Role: "supervisor", Branches: []string{}, Reason: "reorganisation"}, &rc)
	if st == 202 {
		a2.do("POST", fmt.Sprintf("/api/v1/requests/%d/approve", rc.ID), nil, nil)
	}
	other := e.recordings("branch-2")[0]
	c := e.signIn(victim)
	if resp, _ := c.get("/api/v1/recordings/branch-2/" + other + "/audio"); resp.StatusCode == 200 {
		t.Fatalf("a supervisor of branch-1 made unscoped by a role change (filing: %d %s) plays branch-2's call", st, body)
	}
	if st == 202 {
		t.Fatalf("a role change making a supervisor unscoped was filed: %s", body)
	}

	// An admin scoped to branch-1 grants branch-2: refused, at filing.
	s1 := e.signIn(e.addUser("adm-s1", access.Admin, "branch-1"))
	st, body = s1.do("POST", "/api/v1/requests", access.RequestInput{Kind: access.ReqRole, User: "sup", Role: "supervisor", Branches: []string{"branch-1", "branch-2"}, Reason: "help out"}, &rc)
	if st == 202 {
		a2.do("POST", fmt.Sprintf("/api/v1/requests/%d/approve", rc.ID), nil, nil)
	}
	us, _ := access.ListUsers(t.Context(), e.a.Index.DB())
	for _, u := range us {
		if u.Name == "sup" && !slices.Equal(u.Branches, []string{"branch-1"}) {
			t.Fatalf("an admin scoped to branch-1 gave sup branches %v (filing: %d %s)", u.Branches, st, body)
		}
	}
	if st != http.StatusForbidden {
		t.Fatalf("an admin scoped to branch-1 granting branch-2: %d %s, want 403", st, body)
	}
	// Nor can a scoped admin approve what lies outside their scope; an
	// unscoped pair can grant an existing branch, not an unknown one.
	if st, body := a1.do("POST", "/api/v1/requests", access.RequestInput{Kind: access.ReqRole, User: "sup", Role: "supervisor", Branches: []string{"branch-9"}, Reason: "typo"}, nil); st != http.StatusBadRequest {
		t.Fatalf("granting an unknown branch: %d %s", st, body)
	}
	if st, body := a1.do("POST", "/api/v1/requests", access.RequestInput{Kind: access.ReqRole, User: "sup", Role: "supervisor", Branches: []string{"branch-2"}, Reason: "move"}, &rc); st != 202 {
		t.Fatal(st, body)
	}
	if st, body := s1.do("POST", fmt.Sprintf("/api/v1/requests/%d/approve", rc.ID), nil, nil); st != http.StatusNotFound {
		t.Fatalf("an admin of branch-1 approving a move to branch-2: %d %s", st, body)
	}
	if st, body := a2.do("POST", fmt.Sprintf("/api/v1/requests/%d/approve", rc.ID), nil, nil); st != 200 {
		t.Fatal(st, body)
	}

	// Nobody files a change of their own role, and no role change leaves
	// fewer than two enabled admins: at filing, and at the decision when
	// the filer was disabled meanwhile (the command line's bootstrap
	// never reopens either way).
	if st, body := a1.do("POST", "/api/v1/requests", access.RequestInput{Kind: access.ReqRole, User: "adm-1", Role: "dpo", Reason: "moves"}, nil); st != http.StatusForbidden {
		t.Fatalf("an admin files their own role change: %d %s", st, body)
	}
	if st, body := a1.do("POST", "/api/v1/requests", access.RequestInput{Kind: access.ReqRole, User: "adm-s1", Role: "dpo", Branches: []string{"branch-1"}, Reason: "moves"}, &rc); st != 202 {
		t.Fatal(st, body)
	}
	if err := access.DisableUser(t.Context(), e.a.Index.DB(), e.a.Now(), "adm-1", "left"); err != nil {
		t.Fatal(err)
	}
	if st, body := a2.do("POST", fmt.Sprintf("/api/v1/requests/%d/approve", rc.ID), nil, nil); st != http.StatusForbidden {
		t.Fatalf("a demotion leaving one enabled admin approved: %d %s", st, body)
	}
	if st, body := a2.do("POST", "/api/v1/requests", access.RequestInput{Kind: access.ReqRole, User: "adm-s1", Role: "dpo", Branches: []string{"branch-1"}, Reason: "moves"}, nil); st != http.StatusForbidden {
		t.Fatalf("a demotion leaving one enabled admin filed: %d %s", st, body)
	}
	us, _ = access.ListUsers(t.Context(), e.a.Index.DB())
	for _, u := range us {
		if u.Name == "adm-s1" && u.Role != access.Admin {
			t.Fatalf("adm-s1 demoted to %s, leaving one enabled admin", u.Role)
		}
	}
}

// TestFourEyesShowsWhatHappens (finding 8): the approver of an erasure by
// subject sees how many recordings on which branches it erases and which
// are refused; a single erasure is not "done" (and no longer plays) until
// its box applied it and the archive's copy is gone.
func TestFourEyesShowsWhatHappens(t *testing.T) {
	e := twoBranches(t, nil)
	x, m := number(12), number(3) // m: mifid, refused
	d1 := e.signIn(e.addUser("dpo-a", access.DPO))
	d2u := e.addUser("dpo-b", access.DPO, "branch-1")
	web := e.httpClient()
	webSignIn(t, e, web, d2u)
	d2 := e.signIn(d2u)
	var req access.Request
	if st, body := d1.do("POST", "/api/v1/requests", access.RequestInput{Kind: access.ReqBulk, Numbers: []string{x, m}, Reason: "Art. 17 request 78"}, &req); st != 202 {
		t.Fatal(st, body)
	}
	seen := requestJSON(t, d2, req.ID)
	b, _ := json.Marshal(seen)
	var plan struct {
		Plan struct {
			Summary  string `json:"summary"`
			Branches []struct {
				Branch     string   `json:"branch"`
				Recordings int      `json:"recordings"`
				Refused    []string `json:"refused"`
			} `json:"branches"`
		} `json:"plan"`
	}
	json.Unmarshal(b, &plan)
	p := plan.Plan
	if len(p.Branches) != 1 || p.Branches[0].Branch != "branch-1" || p.Branches[0].Recordings != len(e.onBranch(t, x, "branch-1")) ||
		len(p.Branches[0].Refused) != len(e.onBranch(t, m, "branch-1")) || !strings.Contains(p.Summary, "erase") {
		t.Fatalf("the approver (scoped to branch-1) sees %s: want the recordings it erases on branch-1 and those refused", b)
	}
	// The page shows the same to the approver.
	resp, _ := web.Get(e.web + "/requests")
	if page, want := readAll(resp), fmt.Sprintf("branch-1: %d recordings to erase", p.Branches[0].Recordings); !strings.Contains(page, want) {
		t.Fatalf("the approver's page lacks %q", want)
	}

	// A single erasure: applying, not done, until the box applied it.
	victim := e.onBranch(t, x, "branch-2")[0]
	var one access.Request
	if st, body := d1.do("POST", "/api/v1/requests", access.RequestInput{Kind: access.ReqErase, Appliance: "branch-2", Recording: victim, Reason: "Art. 17"}, &one); st != 202 {
		t.Fatal(st, body)
	}
	d3 := e.signIn(e.addUser("dpo-c", access.DPO))
	var got map[string]any
	if st, body := d3.do("POST", fmt.Sprintf("/api/v1/requests/%d/approve", one.ID), nil, &got); st != 200 {
		t.Fatal(st, body)
	}
	if got["state"] == "done" {
		t.Fatalf("erasure shows done before the box checked in: %v", got)
	}
	sup := e.signIn(e.addUser("sup-2", access.Supervisor, "branch-2"))
	if resp, _ := sup.get("/api/v1/recordings/branch-2/" + victim + "/audio"); resp.StatusCode == 200 {
		t.Fatal("a recording whose erasure was approved still plays")
	}
	e.sync(e.boxes["branch-2"])
	e.sync(e.boxes["branch-2"])
	r := requestJSON(t, d1, one.ID)
	if r["state"] != "done" || r["progress"] != "applied on 1 of 1 boxes" {
		t.Fatalf("after the box applied it: %v", r)
	}
}

// TestExportOnce (finding 9): an approved export downloads once, not
// after its expiry, and not once the requester's scope no longer holds
// the recording.
func TestExportOnce(t *testing.T) {
	e := twoBranches(t, nil)
	cu, du := e.addUser("comp", access.Compliance, "branch-1"), e.addUser("dpo", access.DPO)
	comp, dpo := e.signIn(cu), e.signIn(du)
	export := func(rec string) int64 {
		t.Helper()
		var req access.Request
		if st, body := comp.do("POST", "/api/v1/requests", access.RequestInput{Kind: access.ReqExport, Appliance: "branch-1", Recording: rec, Reason: "regulator"}, &req); st != 202 {
			t.Fatal(st, body)
		}
		if st, body := dpo.do("POST", fmt.Sprintf("/api/v1/requests/%d/approve", req.ID), nil, nil); st != 200 {
			t.Fatal(st, body)
		}
		return req.ID
	}
	recs := e.recordings("branch-1")
	id := export(recs[0])
	if resp, _ := comp.get(fmt.Sprintf("/api/v1/requests/%d/export", id)); resp.StatusCode != 200 {
		t.Fatalf("first download: %d", resp.StatusCode)
	}
	if resp, b := comp.get(fmt.Sprintf("/api/v1/requests/%d/export?format=pcap", id)); resp.StatusCode == 200 {
		t.Fatalf("second download of a single export: 200, %d bytes", len(b))
	}
	// Once, also when asked for in parallel.
	id = export(recs[3])
	codes := make(chan int, 6)
	for range 6 {
		go func() {
			req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/v1/requests/%d/export", e.web, id), nil)
			req.Header.Set("Authorization", "Bearer "+comp.token)
			resp, err := comp.http.Do(req)
			if err != nil {
				codes <- 0
				return
			}
			readAll(resp)
			codes <- resp.StatusCode
		}()
	}
	ok := 0
	for range 6 {
		if <-codes == 200 {
			ok++
		}
	}
	if ok != 1 {
		t.Fatalf("6 parallel downloads of one export: %d served", ok)
	}
	// Expiry.
	id = export(recs[1])
	e.clock.Add(25 * time.Hour)
	comp, dpo = e.signIn(cu), e.signIn(du)
	if resp, _ := comp.get(fmt.Sprintf("/api/v1/requests/%d/export", id)); resp.StatusCode == 200 {
		t.Fatal("an export approved 25 hours ago downloads")
	}
	// Scope checked again at download.
	id = export(recs[2])
	a1 := e.signIn(e.addUser("adm-1", access.Admin))
	a2 := e.signIn(e.addUser("adm-2", access.Admin))
	var rc access.Request
	if st, body := a1.do("POST", "/api/v1/requests", access.RequestInput{Kind: access.ReqRole, User: "comp", Role: "compliance", Branches: []string{"branch-2"}, Reason: "moved"}, &rc); st != 202 {
		t.Fatal(st, body)
	}
	if st, body := a2.do("POST", fmt.Sprintf("/api/v1/requests/%d/approve", rc.ID), nil, nil); st != 200 {
		t.Fatal(st, body)
	}
	comp = e.signIn(cu)
	if resp, _ := comp.get(fmt.Sprintf("/api/v1/requests/%d/export", id)); resp.StatusCode == 200 {
		t.Fatal("a user moved to branch-2 downloads an export of branch-1")
	}
}

// TestNoExistenceOracle (finding 12): another branch's recording and an
// unknown one answer alike; clearing a suspension is scoped and leaves
// the access history as it was.
func TestNoExistenceOracle(t *testing.T) {
	e := twoBranches(t, func(c *archive.Config) { c.Access.InsiderMaxPlays = 1 })
	sup := e.signIn(e.addUser("sup", access.Supervisor, "branch-1"))
	other := e.recordings("branch-2")[0]
	for _, suffix := range []string{"", "/audio"} {
		st1, b1 := sup.do("GET", "/api/v1/recordings/branch-2/"+other+suffix, nil, nil)
		st2, b2 := sup.do("GET", "/api/v1/recordings/branch-2/00000000000000000000000000"+suffix, nil, nil)
		if st1 != st2 || b1 != b2 {
			t.Fatalf("GET .../branch-2/ID%s: %d %s for another branch's recording, %d %s for an unknown one", suffix, st1, b1, st2, b2)
		}
	}
	// The CRM names a recording by its ID alone.
	crm := e.signIn(e.addUser("crm", access.CRM, "branch-1"))
	st1, b1 := crm.do("POST", "/api/v1/links", access.MintLink{Recording: other, TTL: "5m"}, nil)
	st2, b2 := crm.do("POST", "/api/v1/links", access.MintLink{Recording: "00000000000000000000000000", TTL: "5m"}, nil)
	if st1 != st2 || b1 != b2 {
		t.Fatalf("POST /api/v1/links: %d %s for another branch's recording, %d %s for an unknown one", st1, b1, st2, b2)
	}
	// A suspension: the seller plays two recordings (limit 1).
	su := e.addUser("seller", access.Supervisor, "branch-1")
	seller := e.signIn(su)
	recs := e.recordings("branch-1")
	for _, id := range recs[:2] {
		seller.get("/api/v1/recordings/branch-1/" + id + "/audio")
	}
	if resp, _ := seller.get("/api/v1/recordings/branch-1/" + recs[2] + "/audio"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("seller not suspended: %d", resp.StatusCode)
	}
	far := e.signIn(e.addUser("adm-2", access.Admin, "branch-2"))
	if st, body := far.do("POST", "/api/v1/users/seller/clear", nil, nil); st != http.StatusNotFound {
		t.Fatalf("an admin of branch-2 clearing a supervisor of branch-1: %d %s", st, body)
	}
	near := e.signIn(e.addUser("adm-1", access.Admin, "branch-1"))
	if st, body := near.do("POST", "/api/v1/users/seller/clear", nil, nil); st != http.StatusNoContent {
		t.Fatalf("an admin of branch-1 clearing: %d %s", st, body)
	}
	var rewritten int
	e.a.Index.DB().QueryRowContext(t.Context(), `SELECT COUNT(*) FROM accesses WHERE name = 'seller' AND action <> 'play' AND action <> 'reviewed'`).Scan(&rewritten)
	if rewritten != 0 {
		t.Fatalf("clearing rewrote %d of the seller's accesses", rewritten)
	}
	if resp, _ := seller.get("/api/v1/recordings/branch-1/" + recs[2] + "/audio"); resp.StatusCode != 200 {
		t.Fatalf("play after the suspension was cleared: %d", resp.StatusCode)
	}
}

// TestBulkErasureBounded: an erasure by subject through the API names at
// most as many numbers as a report may; each number costs index lookups
// in every one of its forms before anyone approves.
func TestBulkErasureBounded(t *testing.T) {
	e := twoBranches(t, nil)
	d1 := e.signIn(e.addUser("dpo-a", access.DPO, "branch-1"))
	nums := make([]string, 21)
	for i := range nums {
		nums[i] = number(100 + i)
	}
	st, body := d1.do("POST", "/api/v1/requests", access.RequestInput{Kind: access.ReqBulk, Numbers: nums, Reason: "Art. 17"}, nil)
	if st != 400 || !strings.Contains(body, "at most 20 numbers") {
		t.Fatalf("an erasure by subject of 21 numbers: %d %s, want 400 naming the bound", st, body)
	}
}

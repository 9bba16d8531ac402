package access_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/sync/wire"
)

// Work queues and administration in the web (issue 23): each test is a
// finding, reproduced through the real pages as the person would.

// webUser is a signed-in browser-like client of the pages.
type webUser struct {
	t    *testing.T
	e    *env
	c    *http.Client
	csrf string
}

func (e *env) web1(t *testing.T, u *user) *webUser {
	t.Helper()
	c := e.httpClient()
	page := webSignIn(t, e, c, u)
	w := &webUser{t: t, e: e, c: c, csrf: between(page, `name="csrf" value="`, `"`)}
	if w.csrf == "" {
		t.Fatalf("no CSRF token for %s", u.name)
	}
	return w
}

func (w *webUser) get(path string) (int, string) {
	w.t.Helper()
	resp, err := w.c.Get(w.e.web + path)
	if err != nil {
		w.t.Fatal(err)
	}
	return resp.StatusCode, readAll(resp)
}

// post sends a form; it answers the status, the Location and the body.
func (w *webUser) post(path string, form url.Values) (int, string, string, http.Header) {
	w.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", w.csrf)
	resp, err := w.c.PostForm(w.e.web+path, form)
	if err != nil {
		w.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location"), string(b), resp.Header
}

// suspendOne makes carla (compliance, branch-1, limit one recording)
// play two recordings: the second suspends her, with an alert.
func suspendOne(t *testing.T, e *env) {
	t.Helper()
	recs := e.recordings("branch-1")
	carla := e.signIn(e.addUser("carla", access.Compliance, "branch-1"))
	for _, id := range recs[:2] {
		carla.get("/api/v1/recordings/branch-1/" + id + "/audio")
	}
	if e.events("insider_suspended", "carla", "") != 1 {
		t.Fatal("carla was not suspended")
	}
}

// TestWebInbox: a DPO sees the alerts and the suspensions with their
// reason in the web and lifts a suspension there; a DPO of another
// branch sees neither. (Old code: no inbox, 404; lifting redirected to
// the users page, refused to the role.)
func TestWebInbox(t *testing.T) {
	e := newEnv(t, func(c *archive.Config) { c.Access.InsiderMaxPlays = 1 })
	e.addBox("branch-1", synth.Config{Calls: 3, Duration: 3 * time.Second, Start: e.clock.Now().Add(-time.Hour)})
	e.addBox("branch-2", synth.Config{Calls: 1, Duration: 3 * time.Second, Start: e.clock.Now().Add(-time.Hour)})
	suspendOne(t, e)
	dpo := e.web1(t, e.addUser("dora", access.DPO, "branch-1"))
	st, page := dpo.get("/inbox")
	if st != 200 {
		t.Fatalf("GET /inbox as a DPO: %d, want the inbox: %.300s", st, page)
	}
	for _, want := range []string{"insider_suspended", `id="susp-carla"`, "recordings played, streamed or exported within", `action="/web/clear/carla"`} {
		if !strings.Contains(page, want) {
			t.Fatalf("the inbox lacks %q: %s", want, page)
		}
	}
	st, loc, _, _ := dpo.post("/web/clear/carla", url.Values{"back": {"/inbox"}})
	if st != http.StatusSeeOther || loc != "/inbox" {
		t.Fatalf("lifting from the inbox: %d to %q, want 303 back to /inbox", st, loc)
	}
	if _, page = dpo.get("/inbox"); strings.Contains(page, `id="susp-carla"`) {
		t.Fatal("the suspension is still listed after it was lifted")
	}
	if e.events("insider_cleared", "dora", "carla") != 1 {
		t.Fatal("the lift is not audited")
	}
	other := e.web1(t, e.addUser("otto", access.DPO, "branch-2"))
	if st, page = other.get("/inbox"); st != 200 || strings.Contains(page, "carla") {
		t.Fatalf("a DPO of branch-2 sees branch-1's alert or suspension: %d %s", st, page)
	}
}

// TestWebArt15Document: the web report for a number carries what the
// JSON has (the caller's number and name, the number called, the
// duration) and who accessed the recording, and downloads as a PDF and
// as JSON. (Old code: the page left out numbers, names and durations;
// no document.)
func TestWebArt15Document(t *testing.T) {
	e := newEnv(t, nil)
	e.addBox("branch-1", synth.Config{Calls: 14, Concurrent: 4, Duration: 7 * time.Second, Start: e.clock.Now().Add(-time.Hour)})
	x := number(12)
	var rec string
	rs, err := e.svc.SubjectRecords(t.Context(), []string{x})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Kind == wire.KindRecording {
			rec = r.ID
		}
	}
	sup := e.signIn(e.addUser("sven", access.Supervisor, "branch-1"))
	if resp, _ := sup.get("/api/v1/recordings/branch-1/" + rec + "/audio"); resp.StatusCode != 200 {
		t.Fatalf("play: %d", resp.StatusCode)
	}
	dpo := e.web1(t, e.addUser("dora", access.DPO))
	st, _, page, _ := dpo.post("/subject", url.Values{"numbers": {x}})
	if st != 200 {
		t.Fatalf("POST /subject: %d %s", st, page)
	}
	for _, want := range []string{"Caller 12", "20012", "7s", "sven", "played the recording"} {
		if !strings.Contains(page, want) {
			t.Fatalf("the web Art. 15 report lacks %q (the JSON has it)", want)
		}
	}
	st, _, body, hd := dpo.post("/subject/document", url.Values{"numbers": {x}, "format": {"pdf"}})
	if st != 200 || hd.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(body, "%PDF-") {
		t.Fatalf("the report as PDF: %d %s %.20q", st, hd.Get("Content-Type"), body)
	}
	txt := access.PDFText([]byte(body))
	for _, want := range []string{x, "Caller 12", "20012", "7s", "sven", "played the recording"} {
		if !strings.Contains(txt, want) {
			t.Fatalf("the PDF lacks %q", want)
		}
	}
	st, _, body, _ = dpo.post("/subject/document", url.Values{"numbers": {x}, "format": {"json"}})
	var rep access.SubjectReport
	if st != 200 || json.Unmarshal([]byte(body), &rep) != nil || len(rep.Items) == 0 || rep.Items[0].Personal == nil {
		t.Fatalf("the report as JSON: %d %.300s", st, body)
	}
	if e.events("subject_report_document", "dora", "pdf") != 1 {
		t.Fatal("the PDF is not audited")
	}
	// The API's HTML is the same document.
	api := e.signIn(e.addUser("dirk", access.DPO))
	if st, body := api.do("POST", "/api/v1/subject", access.SubjectQuery{Numbers: []string{x}, Format: "html"}, nil); st != 200 || !strings.Contains(body, "Caller 12") {
		t.Fatalf("the API's HTML report: %d, lacks the caller's name: %.300s", st, body)
	}
	// A supervisor may not.
	if st, _, _, _ := e.web1(t, e.addUser("sue", access.Supervisor, "branch-1")).post("/subject/document", url.Values{"numbers": {x}, "format": {"pdf"}}); st != http.StatusForbidden {
		t.Fatalf("a supervisor asking for the PDF: %d", st)
	}
}

// TestWebBulkErasure: Art. 17 by subject from the web: one DPO files it
// from the report, another sees on the requests page what it will erase
// and approves, and the recording is erased on the box. (Old code: the
// form's numbers were dropped: "bulk_erase needs numbers".)
func TestWebBulkErasure(t *testing.T) {
	e := newEnv(t, nil)
	e.addBox("branch-1", synth.Config{Calls: 14, Concurrent: 4, Duration: 2 * time.Second, Start: e.clock.Now().Add(-time.Hour)})
	x := number(12)
	d1 := e.web1(t, e.addUser("dora", access.DPO))
	d2 := e.web1(t, e.addUser("dieter", access.DPO))
	st, loc, body, _ := d1.post("/web/request", url.Values{"kind": {"bulk_erase"}, "numbers": {x}, "reason": {"Art. 17 request"}})
	if st != http.StatusSeeOther || loc != "/requests" {
		t.Fatalf("filing an erasure by subject from the web: %d %q %.300s", st, loc, body)
	}
	_, page := d2.get("/requests")
	if !strings.Contains(page, "erase 1 recordings of 1 numbers on 1 branches (branch-1)") {
		t.Fatalf("the approver does not see what will be erased: %s", page)
	}
	id := between(page, `action="/web/decide/`, `"`)
	if st, _, _, _ := d2.post("/web/decide/"+id, url.Values{"approve": {"1"}}); st != http.StatusSeeOther {
		t.Fatalf("approve: %d", st)
	}
	e.sync(e.boxes["branch-1"])
	e.sync(e.boxes["branch-1"])
	held, _ := e.boxTruth(t, x)
	if len(held) != 0 {
		t.Fatalf("the box still holds %v after the approved erasure", held)
	}
	_, page = d1.get("/inbox")
	if !strings.Contains(page, "branch-1: 1 queued, 1 applied") {
		t.Fatalf("the inbox does not show the erasure's progress per box: %s", page)
	}
}

// TestWebAddUserFourEyes: an administrator adds a user with scopes from
// the web; a second approves it and receives a setup link; the new user
// sets their own password and second factor through it and signs in. The requester cannot approve, and a
// scoped admin cannot grant another branch. (Old code: no way to add a
// user in the web: 405.)
func TestWebAddUserFourEyes(t *testing.T) {
	e := newEnv(t, nil)
	e.addBox("branch-1", synth.Config{Calls: 1, Duration: time.Second, Start: e.clock.Now().Add(-time.Hour)})
	e.addBox("branch-2", synth.Config{Calls: 1, Duration: time.Second, Start: e.clock.Now().Add(-time.Hour)})
	a1 := e.web1(t, e.addUser("anna", access.Admin))
	a2 := e.web1(t, e.addUser("ben", access.Admin))
	scoped := e.web1(t, e.addUser("sam", access.Admin, "branch-1"))
	st, _, body, _ := a1.post("/users/new", url.Values{"name": {"neu"}, "role": {"supervisor"}, "branch": {"branch-1"}, "reason": {"new hire"}})
	if st != 200 || !strings.Contains(body, `id="filed"`) {
		t.Fatalf("adding a user from the web: %d %.300s", st, body)
	}
	if st, _, body, _ := scoped.post("/users/new", url.Values{"name": {"neu2"}, "role": {"supervisor"}, "branch": {"branch-2"}, "reason": {"x"}}); st != http.StatusForbidden {
		t.Fatalf("a branch-1 admin granting branch-2: %d %.200s", st, body)
	}
	_, page := a1.get("/requests")
	id := between(page, `<tr id="req-`, `"`)
	if st, _, _, _ := a1.post("/web/decide/"+id, url.Values{"approve": {"1"}}); st != http.StatusForbidden {
		t.Fatalf("the requester approving their own: %d", st)
	}
	st, _, body, _ = a2.post("/web/decide/"+id, url.Values{"approve": {"1"}})
	link := between(body, `<code id="setuplink">`, `<`)
	if st != 200 || link == "" {
		t.Fatalf("the approver is not handed the new user's setup link: %d %.400s", st, body)
	}
	nu := setUp(t, e, link, "neu", access.Supervisor)
	if st, _ := e.web1(t, nu).get("/search"); st != 200 {
		t.Fatalf("the new user's search: %d", st)
	}
	if e.events("user_added", "ben", "neu") != 1 {
		t.Fatal("the addition is not audited")
	}
}

// TestWebResetHandsCredentials: an approved reset from the web hands the
// approver a setup link for the user (the first old code: the approval
// redirected to the requests page and the credentials were lost: the
// account could not be used; the next handed the approver the user's
// secrets), and the user sets up their account through it.
func TestWebResetHandsCredentials(t *testing.T) {
	e := newEnv(t, nil)
	a1 := e.web1(t, e.addUser("anna", access.Admin))
	a2 := e.web1(t, e.addUser("ben", access.Admin))
	e.addUser("carl", access.Auditor)
	if st, _, _, _ := a1.post("/web/users/carl/reset", url.Values{"reason": {"lost the phone"}}); st != http.StatusSeeOther {
		t.Fatalf("reset: %d", st)
	}
	_, page := a2.get("/requests")
	id := between(page, `action="/web/decide/`, `"`)
	st, _, body, _ := a2.post("/web/decide/"+id, url.Values{"approve": {"1"}})
	link := between(body, `<code id="setuplink">`, `<`)
	if st != 200 || link == "" {
		t.Fatalf("approving a reset in the web: %d, no setup link handed over: %.300s", st, body)
	}
	setUp(t, e, link, "carl", access.Auditor)
}

// TestWebTrailBrowser: the auditor's trail browser pages and filters the
// trail and says in plain words whether it verifies; after a row of the
// index is changed behind the archive's back, it says that it does not,
// and where. (Old code: no filter: every kind listed.)
func TestWebTrailBrowser(t *testing.T) {
	e := newEnv(t, nil)
	aud := e.web1(t, e.addUser("audrey", access.Auditor))
	for i := range 60 {
		e.a.Event(t.Context(), "test_note", "tester", "", fmt.Sprintf("note %d", i), false)
	}
	e.svc.AnchorTrail(t.Context())
	_, page := aud.get("/audit?kind=signin")
	if strings.Contains(page, "<td>test_note</td>") || !strings.Contains(page, "The trail verifies") {
		t.Fatalf("filtered by kind signin, the trail browser shows: %.2000s", page)
	}
	_, page = aud.get("/audit?kind=test_note")
	if !strings.Contains(page, "60 entries match; page 1 of 2") || !strings.Contains(page, `id="next"`) {
		t.Fatalf("60 notes, 50 a page: %.2000s", page)
	}
	if _, err := e.a.Index.DB().ExecContext(t.Context(), `UPDATE events SET detail = 'nothing happened' WHERE id = 5`); err != nil {
		t.Fatal(err)
	}
	_, page = aud.get("/audit")
	if !strings.Contains(page, "The trail does NOT verify") || !strings.Contains(page, "entry 5") {
		t.Fatalf("after a row was changed, the trail browser says: %.2000s", page)
	}
}

// TestArt15ErasureReason: the Art. 15 report says why a recording was
// erased, as the person who erased it wrote it (the box seals the free
// text for the archive). Old code: the report said only "erasure".
func TestArt15ErasureReason(t *testing.T) {
	e := newEnv(t, nil)
	b1 := e.addBox("branch-1", synth.Config{Calls: 14, Concurrent: 4, Duration: 2 * time.Second, Start: e.clock.Now().Add(-time.Hour)})
	x := number(12)
	held, _ := e.boxTruth(t, x)
	if len(held) != 1 {
		t.Fatalf("the box holds %v of %s", held, x)
	}
	if err := b1.v.Erase(strings.TrimPrefix(held[0], "branch-1/"), "the customer objected on 2026-11-30", "branch-dpo"); err != nil {
		t.Fatal(err)
	}
	e.sync(b1)
	dpo := e.signIn(e.addUser("dora", access.DPO))
	var rep access.SubjectReport
	if st, body := dpo.do("POST", "/api/v1/subject", access.SubjectQuery{Numbers: []string{x}}, &rep); st != 200 {
		t.Fatalf("report: %d %s", st, body)
	}
	if len(rep.Deleted) == 0 || !strings.Contains(rep.Deleted[0].Reason, "the customer objected on 2026-11-30") {
		t.Fatalf("the report's deletion does not say why: %+v", rep.Deleted)
	}
	_, _, page, _ := e.web1(t, e.addUser("dieter", access.DPO)).post("/subject", url.Values{"numbers": {x}})
	if !strings.Contains(page, "the customer objected on 2026-11-30") {
		t.Fatal("the web report's deletion does not say why")
	}
}

package access_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/record/evidence"
)

// TestEvidenceBundleIsAFourEyesExport: a compliance officer's export,
// approved by a second person, can be downloaded once as an evidence
// bundle from the requests page's button; the bundle verifies offline
// and decrypts with the archive's identity, the download is audited as
// an export of format evidence, and a second download is refused.
// Before the box sent the day's ledger the button answers 409 and leaves
// the export unused.
func TestEvidenceBundleIsAFourEyesExport(t *testing.T) {
	e := newEnv(t, nil)
	if e.clock.Now().UTC().Hour() < 2 {
		e.clock.Add(2 * time.Hour) // the calls start today, over an hour ago
	}
	start := e.clock.Now().UTC().Truncate(24 * time.Hour).Add(time.Minute)
	b := e.addBox("branch-1", synth.Config{Calls: 3, Concurrent: 3, Duration: 2 * time.Second, Start: start})
	recs := e.recordings("branch-1")
	comp := e.addUser("c-evidence", access.Compliance, "branch-1")
	dpo := e.signIn(e.addUser("d-evidence", access.DPO))
	var req access.Request
	if st, body := e.signIn(comp).do("POST", "/api/v1/requests", access.RequestInput{Kind: access.ReqExport, Appliance: "branch-1", Recording: recs[0], Reason: "court case 25"}, &req); st != http.StatusAccepted {
		t.Fatalf("filing: %d %s", st, body)
	}
	if st, body := dpo.do("POST", fmt.Sprintf("/api/v1/requests/%d/approve", req.ID), nil, nil); st != 200 {
		t.Fatalf("approving: %d %s", st, body)
	}
	c := e.httpClient()
	var csrf string
	signIn := func() {
		page := webSignIn(t, e, c, comp)
		action := fmt.Sprintf(`action="/web/requests/%d/evidence"`, req.ID)
		if !strings.Contains(page, action) || !strings.Contains(page, "Evidence bundle") {
			t.Fatalf("the requests page has no evidence button for request %d:\n%s", req.ID, page)
		}
		csrf = between(page, `name="csrf" value="`, `"`)
	}
	post := func() (int, string, http.Header) {
		resp, err := c.PostForm(e.web+fmt.Sprintf("/web/requests/%d/evidence", req.ID), url.Values{"csrf": {csrf}})
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, readAll(resp), resp.Header
	}
	signIn()
	if st, body, _ := post(); st != http.StatusConflict || !strings.Contains(body, "coverage ledger") {
		t.Fatalf("before the day's ledger: %d %.300s", st, body)
	}
	// The night after: the box seals and sends the day's ledger.
	e.clock.Add(start.Truncate(24*time.Hour).Add(24*time.Hour).Sub(e.clock.Now()) + 5*time.Minute)
	e.sync(b)
	signIn()
	st, body, hdr := post()
	if st != http.StatusOK || !strings.Contains(hdr.Get("Content-Disposition"), recs[0]+".svev") {
		t.Fatalf("evidence download: %d %v %.300s", st, hdr, body)
	}
	rep, err := evidence.Verify([]byte(body), evidence.Options{LogKey: e.a.Log.VerifierKey()})
	if err != nil {
		t.Fatalf("the downloaded bundle does not verify: %v", err)
	}
	if rep.ID != recs[0] || rep.Appliance != "branch-1" {
		t.Fatalf("bundle of %s/%s", rep.Appliance, rep.ID)
	}
	pb, _ := evidence.Parse([]byte(body))
	if ct, err := evidence.Decrypt(pb.Recording, []age.Identity{e.identity}); err != nil || ct.Frames == 0 {
		t.Fatalf("decrypting: %+v %v", ct, err)
	}
	if e.events("export", "c-evidence", "format evidence") != 1 {
		t.Fatal("the evidence download is not audited as an export")
	}
	if st, body, _ := post(); st != http.StatusGone {
		t.Fatalf("second download: %d %.300s", st, body)
	}
}

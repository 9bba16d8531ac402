package access_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/capture/synth"
)

// Issue 19, acceptance 1, through the access service: after the box's
// retention let every recording go (the grace period after the archive's
// acknowledgement, for both classes) and synced its tombstones, every
// archived recording is still listed, playable, linkable and exportable
// for the archive's class, and a subject report lists it as held.
func TestBoxRetentionLeavesArchiveServing(t *testing.T) {
	e := newEnv(t, nil)
	b := e.addBox("branch-1", synth.Config{Calls: 14, Concurrent: 4, Duration: 3 * time.Second, Start: e.clock.Now().Add(-time.Hour)})
	recs := e.recordings("branch-1")
	if len(recs) != 14 {
		t.Fatalf("%d recordings archived", len(recs))
	}
	// 8 days: the default class's grace is over; 31: the mifid class's.
	for _, d := range []time.Duration{8 * day, 23 * day} {
		e.clock.Add(d)
		if _, err := b.v.Sweep(); err != nil {
			t.Fatal(err)
		}
		e.sync(b)
	}
	if es, _ := b.v.List(); len(es) != 0 {
		t.Fatalf("the box still holds %d entries", len(es))
	}
	if ts, _ := b.v.PendingTombstones(); len(ts) != 0 {
		t.Fatalf("%d tombstones not synced", len(ts))
	}
	comp := e.signIn(e.addUser("comp", access.Compliance, "branch-1"))
	dpo := e.signIn(e.addUser("dpo", access.DPO))
	crm := e.signIn(e.addUser("crm", access.CRM, "branch-1"))
	var hits struct {
		Recordings []access.Hit `json:"recordings"`
	}
	if st, body := comp.do("GET", "/api/v1/recordings?branch=branch-1", nil, &hits); st != 200 {
		t.Fatal(st, body)
	}
	var listed []string
	for _, h := range hits.Recordings {
		listed = append(listed, h.ID)
		if h.RemovedFromBoxAt.IsZero() {
			t.Errorf("%s: the box's removal is not shown", h.ID)
		}
	}
	for _, id := range recs {
		if !slices.Contains(listed, id) {
			t.Fatalf("%s is not listed after the box's retention removed its copy (%d of %d listed)", id, len(listed), len(recs))
		}
		if resp, wav := comp.get("/api/v1/recordings/branch-1/" + id + "/audio"); resp.StatusCode != 200 || string(wav[:4]) != "RIFF" {
			t.Fatalf("%s does not play after the box's retention: %d %.80s", id, resp.StatusCode, wav)
		}
	}
	var l access.Link
	if st, body := crm.do("POST", "/api/v1/links", access.MintLink{Recording: recs[12], TTL: "10m"}, &l); st != 200 {
		t.Fatalf("link: %d %s", st, body)
	}
	anon := &api{e: e, http: e.httpClient()}
	if resp, wav := anon.get(l.URL); resp.StatusCode != 200 || string(wav[:4]) != "RIFF" {
		t.Fatalf("link: %d", resp.StatusCode)
	}
	var ex access.Request
	if st, body := comp.do("POST", "/api/v1/requests", access.RequestInput{Kind: access.ReqExport, Appliance: "branch-1", Recording: recs[3], Reason: "regulator"}, &ex); st != 202 {
		t.Fatal(st, body)
	}
	if st, body := dpo.do("POST", fmt.Sprintf("/api/v1/requests/%d/approve", ex.ID), nil, nil); st != 200 {
		t.Fatal(st, body)
	}
	if resp, wav := comp.get(fmt.Sprintf("/api/v1/requests/%d/export", ex.ID)); resp.StatusCode != http.StatusOK || len(wav) < 1000 {
		t.Fatalf("export: %d, %d bytes", resp.StatusCode, len(wav))
	}
	var rep access.SubjectReport
	if st, body := dpo.do("POST", "/api/v1/subject", access.SubjectQuery{Numbers: []string{number(12)}}, &rep); st != 200 {
		t.Fatal(st, body)
	}
	if len(rep.Items) != 1 || len(rep.Deleted) != 0 {
		t.Fatalf("subject report: %d held, %d deleted; the archive holds the call", len(rep.Items), len(rep.Deleted))
	}
}

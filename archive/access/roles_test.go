package access_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/capture/synth"
)

// TestRoleMatrix: every role against every action, allowed or 403, and
// every denial in the audit trail; then the branch scope and the
// four-eyes rules.
func TestRoleMatrix(t *testing.T) {
	e := newEnv(t, nil)
	e.addBox("branch-1", synth.Config{Calls: 24, Concurrent: 4, Duration: 2 * time.Second, Start: e.clock.Now().Add(-time.Hour)})
	e.addBox("branch-2", synth.Config{Calls: 12, Concurrent: 4, Duration: 2 * time.Second, Start: e.clock.Now().Add(-time.Hour)})
	recs := e.recordings("branch-1")
	if len(recs) != 24 {
		t.Fatalf("archive holds %d recordings of branch-1, want 24", len(recs))
	}
	// Recordings 12+ are class default (no legal retention): erasable.
	victim := e.addUser("victim", access.Supervisor, "branch-1")
	users := map[access.Role]*user{}
	for _, r := range access.Roles {
		var branches []string
		if r == access.Supervisor || r == access.Compliance || r == access.CRM {
			branches = []string{"branch-1"}
		}
		users[r] = e.addUser("u-"+string(r), r, branches...)
	}
	// A link minted by another crm user: revoking it is ActRevoke.
	otherLink := mint(t, e.signIn(e.addUser("minter", access.CRM, "branch-1")), recs[0])
	type attempt func(c *api, i int) (int, string)
	rec := func(i int) string { return recs[12+i] }
	actions := map[access.Action]attempt{
		access.ActUsers:  func(c *api, i int) (int, string) { return c.do("GET", "/api/v1/users", nil, nil) },
		access.ActAudit:  func(c *api, i int) (int, string) { return c.do("GET", "/api/v1/audit", nil, nil) },
		access.ActFleet:  func(c *api, i int) (int, string) { return c.do("GET", "/api/v1/fleet", nil, nil) },
		access.ActEnroll: func(c *api, i int) (int, string) { return c.do("GET", "/api/v1/enrollments", nil, nil) },
		access.ActSearch: func(c *api, i int) (int, string) {
			return c.do("GET", "/api/v1/recordings?branch=branch-1", nil, nil)
		},
		access.ActPlay: func(c *api, i int) (int, string) {
			resp, b := c.get("/api/v1/recordings/branch-1/" + rec(i) + "/audio")
			return resp.StatusCode, string(b[:min(len(b), 200)])
		},
		access.ActExport: func(c *api, i int) (int, string) {
			return c.do("POST", "/api/v1/requests", access.RequestInput{Kind: access.ReqExport, Appliance: "branch-1", Recording: rec(i), Reason: "complaint 17"}, nil)
		},
		access.ActSubject: func(c *api, i int) (int, string) {
			return c.do("POST", "/api/v1/subject", access.SubjectQuery{Numbers: []string{"+49305550013"}}, nil)
		},
		access.ActErase: func(c *api, i int) (int, string) {
			return c.do("POST", "/api/v1/requests", access.RequestInput{Kind: access.ReqErase, Appliance: "branch-1", Recording: rec(i), Reason: "Art. 17 request"}, nil)
		},
		access.ActHold: func(c *api, i int) (int, string) {
			return c.do("POST", "/api/v1/recordings/branch-1/"+rec(6+i)+"/hold", map[string]string{"reason": "litigation"}, nil)
		},
		access.ActRelease: func(c *api, i int) (int, string) {
			return c.do("POST", "/api/v1/requests", access.RequestInput{Kind: access.ReqRelease, Appliance: "branch-1", Recording: rec(i), Reason: "case closed"}, nil)
		},
		access.ActLink: func(c *api, i int) (int, string) {
			return c.do("POST", "/api/v1/links", access.MintLink{Recording: rec(i), TTL: "5m"}, nil)
		},
		access.ActClear: func(c *api, i int) (int, string) {
			return c.do("POST", "/api/v1/users/victim/clear", nil, nil)
		},
		access.ActRevoke: func(c *api, i int) (int, string) {
			return c.do("DELETE", "/api/v1/links/"+otherLink.ID, nil, nil)
		},
		access.ActDTMF: func(c *api, i int) (int, string) {
			return c.do("POST", "/api/v1/recordings/branch-1/"+rec(i)+"/dtmf", access.RevealDTMF{Reason: "fraud case 3"}, nil)
		},
	}
	_ = victim
	for i, r := range access.Roles {
		c := e.signIn(users[r])
		for _, act := range access.Actions {
			denied := e.events("denied", users[r].name, "")
			st, body := actions[act](c, i)
			allowed := access.Allowed(r, act)
			switch {
			case allowed && st/100 != 2:
				t.Errorf("%s %s: %d %s, want allowed", r, act, st, body)
			case !allowed && st != http.StatusForbidden:
				t.Errorf("%s %s: %d %s, want 403", r, act, st, body)
			case !allowed && e.events("denied", users[r].name, "") != denied+1:
				t.Errorf("%s %s: denial not audited", r, act)
			}
		}
	}

	// Scope: a supervisor of branch-1 cannot hear or list branch-2, and
	// learns no more of it than of an unknown branch (404).
	sup := e.signIn(users[access.Supervisor])
	other := e.recordings("branch-2")[0]
	for _, path := range []string{"/api/v1/recordings/branch-2/" + other + "/audio", "/api/v1/recordings/branch-2/" + other, "/api/v1/recordings?branch=branch-2"} {
		denied := e.events("denied", users[access.Supervisor].name, "")
		if st, body := sup.do("GET", path, nil, nil); st != http.StatusNotFound {
			t.Errorf("supervisor of branch-1 GET %s: %d %s", path, st, body)
		}
		if e.events("denied", users[access.Supervisor].name, "") != denied+1 {
			t.Errorf("out-of-scope %s not audited", path)
		}
	}
	var list struct {
		Recordings []access.Hit `json:"recordings"`
	}
	if st, body := sup.do("GET", "/api/v1/recordings", nil, &list); st != 200 {
		t.Fatal(st, body)
	}
	for _, h := range list.Recordings {
		if h.Appliance != "branch-1" {
			t.Fatalf("supervisor of branch-1 listed %s/%s", h.Appliance, h.ID)
		}
	}
	if len(list.Recordings) == 0 || list.Recordings[0].Personal == nil {
		t.Fatal("supervisor sees no recordings or no metadata of its branch")
	}

	// No session: 401.
	anon := &api{e: e, http: e.httpClient()}
	if st, _ := anon.do("GET", "/api/v1/recordings", nil, nil); st != http.StatusUnauthorized {
		t.Fatalf("GET /api/v1/recordings without a session: %d", st)
	}
	// Wrong credentials: 401, and audited.
	if st, _ := anon.do("POST", "/api/v1/session", access.SignIn{Name: "u-dpo", Password: "wrong", TOTP: "000000"}, nil); st != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", st)
	}
	e.clock.Add(time.Minute) // refusals are audited per source and minute
	anon.do("POST", "/api/v1/session", access.SignIn{Name: "", Password: "x"}, nil)
	access.RefusalsWritten(e.svc)
	if e.events("signin_refused", "", "wrong password 1; names u-dpo") != 1 {
		t.Fatal("failed sign-in not audited")
	}

	// Four eyes: the requester cannot approve; another DPO can.
	dpo := e.signIn(users[access.DPO])
	var req access.Request
	if st, body := dpo.do("POST", "/api/v1/requests", access.RequestInput{Kind: access.ReqErase, Appliance: "branch-1", Recording: rec(9), Reason: "Art. 17"}, &req); st != 202 {
		t.Fatal(st, body)
	}
	if st, body := dpo.do("POST", fmt.Sprintf("/api/v1/requests/%d/approve", req.ID), nil, nil); st != http.StatusForbidden {
		t.Fatalf("self-approval: %d %s", st, body)
	}
	comp := e.signIn(users[access.Compliance])
	if st, body := comp.do("POST", fmt.Sprintf("/api/v1/requests/%d/approve", req.ID), nil, nil); st != http.StatusNotFound {
		t.Fatalf("compliance approving an erasure (not theirs to see): %d %s", st, body)
	}
	dpo2u := e.addUser("u-dpo2", access.DPO)
	dpo2 := e.signIn(dpo2u)
	var done access.Request
	if st, body := dpo2.do("POST", fmt.Sprintf("/api/v1/requests/%d/approve", req.ID), nil, &done); st != 200 || done.State != access.StateApplying {
		t.Fatalf("second DPO approving: %d %s", st, body)
	}
	if e.events("request_approved", "u-dpo2", fmt.Sprintf("request %d erase by u-dpo", req.ID)) != 1 {
		t.Fatal("approval not in the audit trail with both names")
	}
	// The erasure reaches the box at its next check-in and the archive's copy follows.
	e.sync(e.boxes["branch-1"])
	e.sync(e.boxes["branch-1"])
	if _, err := e.boxes["branch-1"].v.Get(rec(9)); err == nil {
		if en, _ := e.boxes["branch-1"].v.Get(rec(9)); en.State != "erased" {
			t.Fatalf("box still holds %s: %s", rec(9), en.State)
		}
	}
	// Export: compliance requests, needs a DPO or another compliance user to approve; only then downloads.
	var ex access.Request
	if st, body := comp.do("POST", "/api/v1/requests", access.RequestInput{Kind: access.ReqExport, Appliance: "branch-1", Recording: rec(11), Reason: "regulator"}, &ex); st != 202 {
		t.Fatal(st, body)
	}
	if resp, _ := comp.get(fmt.Sprintf("/api/v1/requests/%d/export", ex.ID)); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("export before approval: %d", resp.StatusCode)
	}
	if st, body := dpo2.do("POST", fmt.Sprintf("/api/v1/requests/%d/approve", ex.ID), nil, nil); st != 200 {
		t.Fatal(st, body)
	}
	resp, wav := comp.get(fmt.Sprintf("/api/v1/requests/%d/export", ex.ID))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "audio/wav" || len(wav) < 1000 {
		t.Fatalf("approved export: %d %s %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(wav))
	}
	// Once: the pcap is another export.
	if resp, _ := comp.get(fmt.Sprintf("/api/v1/requests/%d/export?format=pcap", ex.ID)); resp.StatusCode != http.StatusGone {
		t.Fatalf("second download: %d", resp.StatusCode)
	}
	if st, body := comp.do("POST", "/api/v1/requests", access.RequestInput{Kind: access.ReqExport, Appliance: "branch-1", Recording: rec(11), Reason: "regulator, pcap"}, &ex); st != 202 {
		t.Fatal(st, body)
	}
	if st, body := dpo2.do("POST", fmt.Sprintf("/api/v1/requests/%d/approve", ex.ID), nil, nil); st != 200 {
		t.Fatal(st, body)
	}
	resp, pcap := comp.get(fmt.Sprintf("/api/v1/requests/%d/export?format=pcap", ex.ID))
	if resp.StatusCode != 200 || len(pcap) < 1000 {
		t.Fatalf("approved pcap export: %d %d bytes", resp.StatusCode, len(pcap))
	}
	// Role change: an admin requests, another admin approves; not the user themself.
	adm := e.signIn(users[access.Admin])
	var rc access.Request
	if st, body := adm.do("POST", "/api/v1/requests", access.RequestInput{Kind: access.ReqRole, User: "victim", Role: "compliance", Branches: []string{"branch-1"}, Reason: "promotion"}, &rc); st != 202 {
		t.Fatal(st, body)
	}
	if st, _ := adm.do("POST", fmt.Sprintf("/api/v1/requests/%d/approve", rc.ID), nil, nil); st != http.StatusForbidden {
		t.Fatal("admin approved its own role request")
	}
	adm2 := e.signIn(e.addUser("u-admin2", access.Admin))
	if st, body := adm2.do("POST", fmt.Sprintf("/api/v1/requests/%d/approve", rc.ID), nil, nil); st != 200 {
		t.Fatal(st, body)
	}
	us, _ := access.ListUsers(t.Context(), e.a.Index.DB())
	for _, u := range us {
		if u.Name == "victim" && u.Role != access.Compliance {
			t.Fatalf("role change approved but victim is %s", u.Role)
		}
	}
}

package access_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/capture/synth"
)

// TestStreamingLink: minted by the crm role for one recording, it plays
// without a session until it expires (403 after), 403 when revoked, 403
// when pointed at another recording, honours Range with 206, and gives
// the audio only.
func TestStreamingLink(t *testing.T) {
	e := newEnv(t, nil)
	e.addBox("branch-1", synth.Config{Calls: 14, Concurrent: 4, Duration: 3 * time.Second, Start: e.clock.Now().Add(-time.Hour)})
	e.addBox("branch-2", synth.Config{Calls: 2, Duration: 3 * time.Second, Start: e.clock.Now().Add(-time.Hour)})
	recs := e.recordings("branch-1")
	crm := e.signIn(e.addUser("crm", access.CRM, "branch-1"))

	var l access.Link
	if st, body := crm.do("POST", "/api/v1/links", access.MintLink{Recording: recs[0], TTL: "10m"}, &l); st != 200 {
		t.Fatal(st, body)
	}
	if e.events("link_minted", "crm", recs[0]) != 1 {
		t.Fatal("minting not audited")
	}
	anon := &api{e: e, http: e.httpClient()}
	resp, wav := anon.get(l.URL)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "audio/wav" || string(wav[:4]) != "RIFF" || binary.LittleEndian.Uint16(wav[22:]) != 2 {
		t.Fatalf("link: %d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), wav[:min(len(wav), 16)])
	}
	// No metadata: no header names the call, the body is a bare WAV.
	for k, v := range resp.Header {
		s := strings.ToLower(k + ": " + strings.Join(v, ","))
		for _, bad := range []string{recs[0], "branch-1", "+4930", "call", "filename"} {
			if strings.Contains(s, strings.ToLower(bad)) {
				t.Fatalf("link response header leaks %q: %s", bad, s)
			}
		}
	}
	if strings.Contains(string(wav), "LIST") || strings.Contains(string(wav), "+4930") {
		t.Fatal("the WAV carries metadata")
	}
	resp, part := anon.get(l.URL, "Range", "bytes=1000-1999")
	if resp.StatusCode != http.StatusPartialContent || len(part) != 1000 || string(part) != string(wav[1000:2000]) {
		t.Fatalf("range: %d %d bytes", resp.StatusCode, len(part))
	}
	if n := e.events("link_used", "crm:crm", recs[0]); n != 2 {
		t.Fatalf("%d uses audited, want 2", n)
	}
	// Pointed at another recording (the row's facts are signed): 403.
	id, sig, _ := strings.Cut(l.URL[strings.LastIndex(l.URL, "/")+1:], ".")
	var l2 access.Link
	crm.do("POST", "/api/v1/links", access.MintLink{Recording: recs[1], TTL: "10m"}, &l2)
	id2, sig2, _ := strings.Cut(l2.URL[strings.LastIndex(l2.URL, "/")+1:], ".")
	for _, forged := range []string{id + "." + sig2, id2 + "." + sig, id + "." + strings.Repeat("0", len(sig)), id} {
		if resp, _ := anon.get("/l/" + forged); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("forged link %s: %d", forged, resp.StatusCode)
		}
	}
	e.a.Index.DB().ExecContext(t.Context(), `UPDATE links SET recording = ? WHERE id = ?`, recs[2], id)
	if resp, _ := anon.get(l.URL); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a link whose row was pointed at another recording in the database still plays: %d", resp.StatusCode)
	}
	e.a.Index.DB().ExecContext(t.Context(), `UPDATE links SET recording = ? WHERE id = ?`, recs[0], id)
	// Outside the crm user's branches: 404, like an unknown recording.
	if st, _ := crm.do("POST", "/api/v1/links", access.MintLink{Appliance: "branch-2", Recording: e.recordings("branch-2")[0], TTL: "10m"}, nil); st != http.StatusNotFound {
		t.Fatalf("link for another branch: %d", st)
	}
	// Longer than allowed: refused.
	if st, _ := crm.do("POST", "/api/v1/links", access.MintLink{Recording: recs[0], TTL: "48h"}, nil); st != http.StatusBadRequest {
		t.Fatalf("48h link: %d", st)
	}
	// Source network: a link for 10.0.0.0/8 does not play from loopback.
	var ln access.Link
	crm.do("POST", "/api/v1/links", access.MintLink{Recording: recs[3], TTL: "10m", Network: "10.0.0.0/8"}, &ln)
	if resp, _ := anon.get(ln.URL); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("link from outside its network: %d", resp.StatusCode)
	}
	var ll access.Link
	crm.do("POST", "/api/v1/links", access.MintLink{Recording: recs[3], TTL: "10m", Network: "127.0.0.0/8"}, &ll)
	if resp, _ := anon.get(ll.URL); resp.StatusCode != 200 {
		t.Fatalf("link from inside its network: %d", resp.StatusCode)
	}
	// Revoked: 403.
	if st, body := crm.do("DELETE", "/api/v1/links/"+l2.ID, nil, nil); st != http.StatusNoContent {
		t.Fatal(st, body)
	}
	if resp, _ := anon.get(l2.URL); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("revoked link: %d", resp.StatusCode)
	}
	// Expired: 403.
	e.clock.Add(11 * time.Minute)
	if resp, _ := anon.get(l.URL); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("expired link: %d", resp.StatusCode)
	}
	// Refusals are audited per source and minute: the next minute's
	// first refusal writes the last one's.
	e.clock.Add(time.Minute)
	anon.get("/l/next-minute")
	access.RefusalsWritten(e.svc)
	if e.events("link_refused", "", "expired 1") != 1 || e.events("link_refused", "", "revoked 1") != 1 {
		t.Fatal("refused uses not audited with the reason")
	}
	// The crm role reads nothing else.
	crm2 := e.signIn(e.addUser("crm2", access.CRM, "branch-1"))
	for _, p := range []string{"/api/v1/recordings", "/api/v1/recordings/branch-1/" + recs[0], "/api/v1/recordings/branch-1/" + recs[0] + "/audio"} {
		if resp, _ := crm2.get(p); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("crm GET %s: %d", p, resp.StatusCode)
		}
	}
}

// mint makes a link for a recording as c (a crm user).
func mint(t *testing.T, c *api, rec string) access.Link {
	t.Helper()
	var l access.Link
	if st, body := c.do("POST", "/api/v1/links", access.MintLink{Recording: rec, TTL: "30m"}, &l); st != 200 {
		t.Fatalf("mint: %d %s", st, body)
	}
	return l
}

// TestLinkInsider: every stream through a link counts against its
// minter's limit (distinct recordings; seeking in one is not another),
// the stream past the limit is refused and suspends the minter, and a
// suspended minter's links all die.
func TestLinkInsider(t *testing.T) {
	e := newEnv(t, func(c *archive.Config) { c.Access.InsiderMaxPlays = 2 })
	e.addBox("branch-1", synth.Config{Calls: 4, Duration: 3 * time.Second, Start: e.clock.Now().Add(-time.Hour)})
	recs := e.recordings("branch-1")
	crm := e.signIn(e.addUser("crm", access.CRM, "branch-1"))
	var ls []access.Link
	for _, r := range recs {
		ls = append(ls, mint(t, crm, r))
	}
	anon := &api{e: e, http: e.httpClient()}
	for i, want := range []int{200, 206, 200, http.StatusForbidden} {
		l, hdr := ls[i], []string{}
		if i == 1 {
			l, hdr = ls[0], []string{"Range", "bytes=100-199"}
		}
		if resp, _ := anon.get(l.URL, hdr...); resp.StatusCode != want {
			t.Fatalf("stream %d through a link (limit 2 recordings): %d, want %d", i+1, resp.StatusCode, want)
		}
	}
	if a := waitAlert(t, e, "insider_suspended"); a.Actor != "crm" {
		t.Fatalf("alert names %q, want the minter", a.Actor)
	}
	if resp, _ := anon.get(ls[0].URL); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a suspended minter's link still streams: %d", resp.StatusCode)
	}
	if st, _ := crm.do("POST", "/api/v1/links", access.MintLink{Recording: recs[3], TTL: "10m"}, nil); st != http.StatusForbidden {
		t.Fatalf("a suspended crm user mints: %d", st)
	}
}

// TestLinkWorkingHours: a stream through a link outside working hours is
// refused before serving and suspends the minter.
func TestLinkWorkingHours(t *testing.T) {
	e := newEnv(t, func(c *archive.Config) {
		h := time.Now().UTC().Add(6 * time.Hour).Hour() // excludes now
		c.Access.WorkingHours = fmt.Sprintf("%02d:00-%02d:59", h, h)
	})
	e.addBox("branch-1", synth.Config{Calls: 1, Duration: time.Second, Start: e.clock.Now().Add(-time.Hour)})
	crm := e.signIn(e.addUser("crm", access.CRM, "branch-1"))
	l := mint(t, crm, e.recordings("branch-1")[0])
	anon := &api{e: e, http: e.httpClient()}
	if resp, _ := anon.get(l.URL); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("stream through a link outside working hours: %d", resp.StatusCode)
	}
	if a := waitAlert(t, e, "insider_suspended"); a.Actor != "crm" {
		t.Fatalf("alert names %q", a.Actor)
	}
}

// TestLinkMinterLosesRole: a link dies when its minter's role or branch
// changes (two admins approve the change).
func TestLinkMinterLosesRole(t *testing.T) {
	e := newEnv(t, nil)
	e.addBox("branch-1", synth.Config{Calls: 2, Duration: time.Second, Start: e.clock.Now().Add(-time.Hour)})
	e.addBox("branch-2", synth.Config{Calls: 1, Duration: time.Second, Start: e.clock.Now().Add(-time.Hour)})
	recs := e.recordings("branch-1")
	crm := e.signIn(e.addUser("crm", access.CRM, "branch-1"))
	l0, l1 := mint(t, crm, recs[0]), mint(t, crm, recs[1])
	a1, a2 := e.signIn(e.addUser("admin1", access.Admin)), e.signIn(e.addUser("admin2", access.Admin))
	change := func(role access.Role, branches ...string) {
		t.Helper()
		var req access.Request
		if st, body := a1.do("POST", "/api/v1/requests", access.RequestInput{Kind: "role", User: "crm", Role: string(role), Branches: branches, Reason: "moved"}, &req); st != http.StatusAccepted {
			t.Fatal(st, body)
		}
		if st, body := a2.do("POST", fmt.Sprintf("/api/v1/requests/%d/approve", req.ID), nil, nil); st != 200 {
			t.Fatal(st, body)
		}
	}
	anon := &api{e: e, http: e.httpClient()}
	if resp, _ := anon.get(l0.URL); resp.StatusCode != 200 {
		t.Fatalf("link before the change: %d", resp.StatusCode)
	}
	change(access.CRM, "branch-2")
	if resp, _ := anon.get(l0.URL); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("link to branch-1 after its minter moved to branch-2: %d", resp.StatusCode)
	}
	change(access.Supervisor, "branch-1")
	if resp, _ := anon.get(l1.URL); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("link after its minter became a supervisor: %d", resp.StatusCode)
	}
}

// TestLinkRevokeAny: a DPO (API) and an admin (web page) revoke any
// user's links; a supervisor cannot, another crm user cannot; each
// revocation is audited.
func TestLinkRevokeAny(t *testing.T) {
	e := newEnv(t, nil)
	e.addBox("branch-1", synth.Config{Calls: 2, Duration: time.Second, Start: e.clock.Now().Add(-time.Hour)})
	recs := e.recordings("branch-1")
	crm := e.signIn(e.addUser("crm", access.CRM, "branch-1"))
	l0, l1 := mint(t, crm, recs[0]), mint(t, crm, recs[1])
	anon := &api{e: e, http: e.httpClient()}
	sup := e.signIn(e.addUser("sup", access.Supervisor, "branch-1"))
	if st, _ := sup.do("DELETE", "/api/v1/links/"+l0.ID, nil, nil); st != http.StatusForbidden {
		t.Fatalf("supervisor revokes a link: %d", st)
	}
	// Another crm user of the same branch: only its own links.
	crm2 := e.signIn(e.addUser("crm2", access.CRM, "branch-1"))
	if st, body := crm2.do("DELETE", "/api/v1/links/"+l0.ID, nil, nil); st != http.StatusForbidden {
		t.Fatalf("a crm user revokes another crm user's link: %d %s", st, body)
	}
	dpo := e.signIn(e.addUser("dpo", access.DPO))
	var list struct{ Links []access.LinkInfo }
	if st, body := dpo.do("GET", "/api/v1/links", nil, &list); st != 200 || len(list.Links) != 2 {
		t.Fatalf("DPO lists links: %d %s", st, body)
	}
	if st, body := dpo.do("DELETE", "/api/v1/links/"+l0.ID, nil, nil); st != http.StatusNoContent {
		t.Fatalf("DPO revokes a crm user's link: %d %s", st, body)
	}
	if resp, _ := anon.get(l0.URL); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("link revoked by the DPO: %d", resp.StatusCode)
	}
	// The admin on the web page: the link is listed with a revoke button.
	c := e.httpClient()
	admin := e.addUser("admin", access.Admin)
	webSignIn(t, e, c, admin)
	resp, err := c.Get(e.web + "/links/manage")
	if err != nil {
		t.Fatal(err)
	}
	page := readAll(resp)
	if resp.StatusCode != 200 || !strings.Contains(page, l1.ID) {
		t.Fatalf("admin's links page: %d %s", resp.StatusCode, page)
	}
	csrf := between(page, `name="csrf" value="`, `"`)
	resp, err = c.PostForm(e.web+"/web/links/"+l1.ID+"/revoke", url.Values{"csrf": {csrf}})
	if err != nil {
		t.Fatal(err)
	}
	readAll(resp)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("admin revokes on the web: %d", resp.StatusCode)
	}
	if resp, _ := anon.get(l1.URL); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("link revoked by the admin: %d", resp.StatusCode)
	}
	if e.events("link_revoked", "dpo", l0.ID) != 1 || e.events("link_revoked", "admin", l1.ID) != 1 {
		t.Fatal("revocations not audited")
	}
}

// TestLinkPublicURL: a link's URL is built on access.public_url, never on
// the request's Host header; without public_url no link is minted.
func TestLinkPublicURL(t *testing.T) {
	e := newEnv(t, func(c *archive.Config) { c.Access.PublicURL = "https://recordings.bank.example:8443" })
	e.addBox("branch-1", synth.Config{Calls: 1, Duration: time.Second, Start: e.clock.Now().Add(-time.Hour)})
	rec := e.recordings("branch-1")[0]
	crm := e.signIn(e.addUser("crm", access.CRM, "branch-1"))
	b, _ := json.Marshal(access.MintLink{Recording: rec, TTL: "10m"})
	req, _ := http.NewRequest("POST", e.web+"/api/v1/links", bytes.NewReader(b))
	req.Host = "attacker.example"
	req.Header.Set("Authorization", "Bearer "+crm.token)
	resp, err := crm.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var l access.Link
	json.NewDecoder(resp.Body).Decode(&l)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(l.URL, "https://recordings.bank.example:8443/l/") {
		t.Fatalf("link minted with Host: attacker.example: %d %q", resp.StatusCode, l.URL)
	}

	e2 := newEnv(t, func(c *archive.Config) { c.Access.PublicURL = "" })
	e2.addBox("branch-1", synth.Config{Calls: 1, Duration: time.Second, Start: e2.clock.Now().Add(-time.Hour)})
	crm2 := e2.signIn(e2.addUser("crm", access.CRM, "branch-1"))
	if st, body := crm2.do("POST", "/api/v1/links", access.MintLink{Recording: e2.recordings("branch-1")[0], TTL: "10m"}, nil); st != http.StatusServiceUnavailable || !strings.Contains(body, "public_url") {
		t.Fatalf("minting without access.public_url: %d %s", st, body)
	}
	// A public URL that is not https://HOST is refused at start.
	for _, bad := range []string{"http://x.example", "https://", "https://x.example/?a=b", "x.example", "https://u:p@x.example"} {
		c := e2.a.Config
		c.Access.PublicURL = bad
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "public_url") {
			t.Fatalf("access.public_url %q: %v", bad, err)
		}
	}
}

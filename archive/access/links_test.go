package access_test

import (
	"encoding/binary"
	"net/http"
	"strings"
	"testing"
	"time"

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
	// Outside the crm user's branches: 403.
	if st, _ := crm.do("POST", "/api/v1/links", access.MintLink{Appliance: "branch-2", Recording: e.recordings("branch-2")[0], TTL: "10m"}, nil); st != http.StatusForbidden {
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

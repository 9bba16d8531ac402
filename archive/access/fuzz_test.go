package access_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/capture/synth"
)

// FuzzAccessAPI sends what a peer can send the access service (sign-in
// bodies, request bodies, search queries, streaming link tokens, form
// posts) straight into its handler: never a panic, never a 5xx, and a
// signed-in user's rights never grow (a supervisor gets no 2xx on what its
// role may not do).
func FuzzAccessAPI(f *testing.F) {
	e := newEnv(f, nil)
	e.addBox("branch-1", synth.Config{Calls: 2, Duration: time.Second, Start: e.clock.Now().Add(-time.Hour)})
	sup := e.signIn(e.addUser("sup", access.Supervisor, "branch-1"))
	id := e.recordings("branch-1")[0]
	h := e.svc.Handler()
	f.Add(uint8(0), `{"name":"sup","password":"x","totp":"123456"}`)
	f.Add(uint8(1), `{"kind":"erase","appliance":"branch-1","recording":"`+id+`","reason":"r"}`)
	f.Add(uint8(2), `number=%2B4930&from=2026-01-01&min_duration=5s&branch=branch-1`)
	f.Add(uint8(3), `abc.def`)
	f.Add(uint8(4), `name=sup&password=x&totp=1`)
	f.Add(uint8(5), `{"recording":"`+id+`","ttl":"10m","network":"10.0.0.0/8"}`)
	f.Add(uint8(6), `{"numbers":["+4930"],"format":"html"}`)
	f.Fuzz(func(t *testing.T, which uint8, s string) {
		var req *http.Request
		auth := true
		switch which % 8 {
		case 0:
			req, auth = httptest.NewRequest("POST", "/api/v1/session", strings.NewReader(s)), false
		case 1:
			req = httptest.NewRequest("POST", "/api/v1/requests", strings.NewReader(s))
		case 2:
			req = httptest.NewRequest("GET", "/api/v1/recordings?"+url.PathEscape(s), nil)
			req.URL.RawQuery = s
		case 3:
			req, auth = httptest.NewRequest("GET", "/l/"+url.PathEscape(s), nil), false
		case 4:
			req, auth = httptest.NewRequest("POST", "/signin", strings.NewReader(s)), false
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		case 5:
			req = httptest.NewRequest("POST", "/api/v1/links", strings.NewReader(s))
		case 6:
			req = httptest.NewRequest("POST", "/api/v1/subject", strings.NewReader(s))
		case 7:
			req = httptest.NewRequest("GET", "/api/v1/recordings/branch-1/"+url.PathEscape(s), nil)
		}
		if auth {
			req.Header.Set("Authorization", "Bearer "+sup.token)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %s: %d %s", req.Method, req.URL, w.Code, w.Body.String())
		}
		// A supervisor may not file requests, mint links or read subject reports.
		if auth && (which%8 == 1 || which%8 == 5 || which%8 == 6) && w.Code/100 == 2 {
			t.Fatalf("supervisor got %d for %s %s", w.Code, req.Method, req.URL)
		}
	})
}

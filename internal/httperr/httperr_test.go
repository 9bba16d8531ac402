package httperr

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

var errSentinel = errors.New("the caller's own sentinel")

func TestWriter(t *testing.T) {
	dbFault := errors.New("sql: database is closed (secret path /var/lib/archive/index.db)")
	classify := func(err error) *Error {
		if errors.Is(err, errSentinel) {
			return Wrap(http.StatusGone, "gone for good", err)
		}
		return nil
	}
	for _, tc := range []struct {
		name     string
		err      error
		accept   string
		code     int
		msg      string // what the client reads
		html     bool
		logged   string // "" : nothing logged
		notSent  string // never in the reply
		logLevel string
	}{
		{name: "bad request", err: BadRequest("from: not a date"), code: 400, msg: "from: not a date"},
		{name: "not found", err: NotFound("no such recording"), code: 404, msg: "no such recording"},
		{name: "forbidden", err: Forbidden("role agent may not play"), code: 403, msg: "role agent may not play"},
		{name: "empty message is the status text", err: New(http.StatusConflict, ""), code: 409, msg: "Conflict"},
		{name: "wrapped httperr", err: fmt.Errorf("handler: %w", Conflict("already decided")), code: 409, msg: "already decided"},
		{name: "cause logged, not sent", err: Wrap(http.StatusServiceUnavailable, "index unavailable", dbFault), code: 503, msg: "index unavailable", logged: "database is closed", notSent: "database is closed", logLevel: "ERROR"},
		{name: "4xx cause logged at info", err: Wrap(http.StatusBadRequest, "malformed body", errors.New("json: line 3")), code: 400, msg: "malformed body", logged: "json: line 3", notSent: "line 3", logLevel: "INFO"},
		{name: "unknown error", err: dbFault, code: 500, msg: GenericMessage, logged: "database is closed", notSent: "database", logLevel: "ERROR"},
		{name: "wrapped unknown error", err: fmt.Errorf("search: %w", dbFault), code: 500, msg: GenericMessage, logged: "search: sql: database is closed", notSent: "sql", logLevel: "ERROR"},
		{name: "classified sentinel", err: fmt.Errorf("play: %w", errSentinel), code: 410, msg: "gone for good", logged: "sentinel", notSent: "sentinel", logLevel: "INFO"},
		{name: "out-of-range code is unknown", err: New(200, "fine"), code: 500, msg: GenericMessage, logged: "fine", notSent: "fine", logLevel: "ERROR"},
		{name: "browser gets a page", err: NotFound("no such recording"), accept: "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8", code: 404, msg: "no such recording", html: true},
		{name: "browser, unknown error", err: dbFault, accept: "text/html", code: 500, msg: GenericMessage, html: true, logged: "database is closed", notSent: "database", logLevel: "ERROR"},
		{name: "JSON first wins", err: NotFound("x"), accept: "application/json, text/html", code: 404, msg: "x"},
		{name: "no Accept is JSON", err: BadRequest("<b>html</b> in text"), code: 400, msg: "<b>html</b> in text"},
		{name: "page escapes", err: BadRequest("<script>alert(1)</script>"), accept: "text/html", code: 400, msg: "&lt;script&gt;alert(1)&lt;/script&gt;", html: true, notSent: "<script>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			wr := Writer{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Classify: classify}
			r := httptest.NewRequest("GET", "/api/v1/recordings", nil)
			if tc.accept != "" {
				r.Header.Set("Accept", tc.accept)
			}
			w := httptest.NewRecorder()
			wr.Write(w, r, tc.err)
			if w.Code != tc.code {
				t.Errorf("status %d, want %d", w.Code, tc.code)
			}
			body := w.Body.String()
			if tc.html {
				if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
					t.Errorf("Content-Type %q, want HTML", ct)
				}
				if !strings.Contains(body, tc.msg) {
					t.Errorf("page %q lacks %q", body, tc.msg)
				}
			} else {
				if ct := w.Header().Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type %q, want JSON", ct)
				}
				var got reply
				if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || got.Error != tc.msg {
					t.Errorf("body %q (%v), want error %q", body, err, tc.msg)
				}
			}
			if w.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q", w.Header().Get("Cache-Control"))
			}
			if tc.notSent != "" && strings.Contains(body, tc.notSent) {
				t.Errorf("reply %q carries %q", body, tc.notSent)
			}
			switch {
			case tc.logged == "" && logs.Len() > 0:
				t.Errorf("logged %q, want nothing", logs.String())
			case tc.logged != "" && !strings.Contains(logs.String(), tc.logged):
				t.Errorf("log %q lacks the cause %q", logs.String(), tc.logged)
			case tc.logLevel != "" && !strings.Contains(logs.String(), "level="+tc.logLevel):
				t.Errorf("log %q not at %s", logs.String(), tc.logLevel)
			}
		})
	}
}

// The sync protocol's refusals: {"error": text} and the same text in
// Spanvault-Error, JSON whatever the client accepts.
func TestWriterHeaderJSONOnly(t *testing.T) {
	wr := Writer{Header: "Spanvault-Error", JSONOnly: true}
	r := httptest.NewRequest("POST", "/v1/records", nil)
	r.Header.Set("Accept", "text/html")
	w := httptest.NewRecorder()
	wr.Write(w, r, Forbidden("appliance is revoked: b1\r\nX-Evil: 1"))
	if w.Code != 403 {
		t.Fatalf("status %d", w.Code)
	}
	if got := w.Header().Get("Spanvault-Error"); got != "appliance is revoked: b1  X-Evil: 1" {
		t.Errorf("header %q", got)
	}
	if got, want := w.Body.String(), `{"error":"appliance is revoked: b1\r\nX-Evil: 1"}`+"\n"; got != want {
		t.Errorf("body %q, want %q", got, want)
	}
	// nil request: JSON.
	w = httptest.NewRecorder()
	Writer{}.Write(w, nil, BadRequest("x"))
	if w.Header().Get("Content-Type") != "application/json" || w.Code != 400 {
		t.Errorf("nil request: %d %q", w.Code, w.Header().Get("Content-Type"))
	}
}

func TestErrorText(t *testing.T) {
	cause := errors.New("disk full")
	for _, tc := range []struct {
		err  *Error
		want string
	}{
		{New(400, "bad"), "bad"},
		{New(404, ""), "Not Found"},
		{Wrap(500, "store", cause), "store: disk full"},
		{&Error{Code: 500, Err: cause}, "disk full"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("%#v: %q, want %q", tc.err, got, tc.want)
		}
	}
	if !errors.Is(Internal(cause), cause) {
		t.Error("Internal does not unwrap to its cause")
	}
	if Of(nil) != nil {
		t.Error("Of(nil) is not nil")
	}
}

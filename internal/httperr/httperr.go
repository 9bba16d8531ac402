// Package httperr is the one HTTP error of both products (the box's API
// and status page, the archive's ingest, web pages and API): an Error
// separates what the client reads (Code, Msg) from the cause that is
// logged (Err), and a Writer answers any error with it.
//
// An error that is not an *Error (anywhere in its chain) is unknown: the
// client reads 500 and a generic message, never its text, and the cause
// goes to the log. Callers that have sentinel errors of their own map
// them onto an *Error before writing (Writer.Classify).
//
// It imports only the standard library, so that either binary may link it.
package httperr

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"mime"
	"net/http"
	"strings"
)

// Error is an error with the HTTP status and the text a client sees.
type Error struct {
	Code int    // the HTTP status
	Msg  string // what the client reads; "": the status text
	Err  error  // the cause, logged, never sent; may be nil
}

// Error is the message and, when there is one, the cause.
func (e *Error) Error() string {
	switch {
	case e.Err == nil:
		return e.public()
	case e.Msg == "":
		return e.Err.Error()
	}
	return e.Msg + ": " + e.Err.Error()
}

// Unwrap is the cause.
func (e *Error) Unwrap() error { return e.Err }

func (e *Error) public() string {
	if e.Msg != "" {
		return e.Msg
	}
	return http.StatusText(e.Code)
}

// New is an error with the given status and message and no cause.
func New(code int, msg string) *Error { return &Error{Code: code, Msg: msg} }

// Wrap is an error with the given status and message whose cause err is
// logged, not sent.
func Wrap(code int, msg string, err error) *Error { return &Error{Code: code, Msg: msg, Err: err} }

// BadRequest is a 400 whose message tells the client what to fix.
func BadRequest(msg string) *Error { return New(http.StatusBadRequest, msg) }

// BadRequestf is BadRequest with a format.
func BadRequestf(format string, args ...any) *Error {
	return New(http.StatusBadRequest, fmt.Sprintf(format, args...))
}

// NotFound is a 404.
func NotFound(msg string) *Error { return New(http.StatusNotFound, msg) }

// Forbidden is a 403.
func Forbidden(msg string) *Error { return New(http.StatusForbidden, msg) }

// Conflict is a 409.
func Conflict(msg string) *Error { return New(http.StatusConflict, msg) }

// Internal is a 500 with the generic message; err is logged.
func Internal(err error) *Error { return Wrap(http.StatusInternalServerError, GenericMessage, err) }

// GenericMessage is what a client reads of an unknown error.
const GenericMessage = "internal server error"

// Of is the *Error a client is answered with for err: err itself (or the
// first *Error in its chain), or, for anything else, a 500 with the
// generic message and err as the cause. Of(nil) is nil.
func Of(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		if e.Code < 400 || e.Code > 599 {
			return Internal(err)
		}
		return e
	}
	return Internal(err)
}

// Writer answers errors. The zero Writer writes JSON ({"error": msg}) or,
// to a browser (an Accept header that names text/html before any JSON),
// a small HTML page, and logs causes with slog's default logger.
type Writer struct {
	// Logger receives the cause of every error that has one (Error level
	// for 5xx, Info otherwise). nil: slog.Default().
	Logger *slog.Logger
	// Classify, when set, maps errors of the caller's own (sentinels,
	// refusals) onto an *Error first; it returns nil for those it does
	// not know, which Of then answers.
	Classify func(error) *Error
	// Header, when set, also carries the message in this response header
	// (the sync protocol's Spanvault-Error).
	Header string
	// JSONOnly answers JSON whatever the request accepts (machine
	// protocols: the sync protocol, the box's API).
	JSONOnly bool
	// HTML decides whether r gets a page; nil: by its Accept header.
	HTML func(r *http.Request) bool
	// Page answers e for a browser: it writes the status (e.Code) and
	// the page (Content-Type is set); nil: a minimal page of its own.
	Page func(w http.ResponseWriter, r *http.Request, e *Error)
	// Before, when set, runs after the headers are set and before the
	// status is written (a WWW-Authenticate challenge, for one).
	Before func(w http.ResponseWriter, e *Error)
}

// Resolve is the *Error w answers err with (Classify, then Of).
func (wr Writer) Resolve(err error) *Error {
	if err == nil {
		return nil
	}
	if wr.Classify != nil {
		if e := wr.Classify(err); e != nil {
			return e
		}
	}
	return Of(err)
}

// Write answers err on w and logs its cause. r may be nil (then JSON).
func (wr Writer) Write(w http.ResponseWriter, r *http.Request, err error) {
	e := wr.Resolve(err)
	if e == nil {
		e = Internal(errors.New("httperr: Write called with a nil error"))
	}
	wr.log(r, e)
	msg := e.public()
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if wr.Header != "" {
		h.Set(wr.Header, headerSafe(msg))
	}
	if wr.Before != nil {
		wr.Before(w, e)
	}
	if !wr.JSONOnly && r != nil && wr.wantsHTML(r) {
		h.Set("Content-Type", "text/html; charset=utf-8")
		if wr.Page != nil {
			wr.Page(w, r, &Error{Code: e.Code, Msg: msg})
			return
		}
		var b bytes.Buffer
		if err := page.Execute(&b, struct {
			Code   int
			Status string
			Msg    string
		}{e.Code, http.StatusText(e.Code), msg}); err != nil {
			// The built-in page cannot fail on these fields; should it,
			// the status still goes out, with the message as text.
			b.Reset()
			b.WriteString(msg)
		}
		w.WriteHeader(e.Code)
		w.Write(b.Bytes())
		return
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(e.Code)
	json.NewEncoder(w).Encode(reply{Error: msg})
}

// reply is the JSON body: {"error": text}.
type reply struct {
	Error string `json:"error"`
}

func (wr Writer) log(r *http.Request, e *Error) {
	if e.Err == nil {
		return
	}
	l := wr.Logger
	if l == nil {
		l = slog.Default()
	}
	attrs := []any{"status", e.Code, "msg", e.public(), "err", e.Err}
	if r != nil {
		attrs = append(attrs, "method", r.Method, "path", r.URL.Path)
	}
	if e.Code >= 500 {
		l.Error("http error", attrs...)
		return
	}
	l.Info("http error", attrs...)
}

func (wr Writer) wantsHTML(r *http.Request) bool {
	if wr.HTML != nil {
		return wr.HTML(r)
	}
	return WantsHTML(r)
}

// WantsHTML reports whether r's Accept header names text/html before any
// JSON type (a browser's navigation does; API clients do not).
func WantsHTML(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		t, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch {
		case t == "text/html" || t == "application/xhtml+xml":
			return true
		case t == "application/json" || strings.HasSuffix(t, "+json"):
			return false
		}
	}
	return false
}

// headerSafe: a header value of one line of printable text.
func headerSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

var page = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Code}} {{.Status}}</title></head>
<body><h1>{{.Code}} {{.Status}}</h1><p>{{.Msg}}</p></body></html>
`))

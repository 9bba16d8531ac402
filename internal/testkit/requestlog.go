package testkit

import (
	"net/http"
	"strings"
	"sync"
)

// RequestLog records the requests a real server receives under a path
// prefix, in order, as "METHOD PATH RANGE" (the Range header, empty when
// none): what a test asserts about a client's requests without standing
// in for the server.
type RequestLog struct {
	mu    sync.Mutex
	lines []string
	on    func(line string)
}

// LogRequests wraps srv's handler (before it serves) so that the
// requests under prefix are recorded.
func LogRequests(srv *http.Server, prefix string) *RequestLog {
	l := &RequestLog{}
	inner := srv.Handler
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, prefix) {
			line := r.Method + " " + r.URL.Path + " " + r.Header.Get("Range")
			l.mu.Lock()
			l.lines = append(l.lines, line)
			on := l.on
			l.mu.Unlock()
			if on != nil {
				on(line)
			}
		}
		inner.ServeHTTP(w, r)
	})
	return l
}

// Lines are the requests recorded so far.
func (l *RequestLog) Lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// OnRequest calls f with each request recorded from now on, before it is
// served.
func (l *RequestLog) OnRequest(f func(line string)) { l.mu.Lock(); l.on = f; l.mu.Unlock() }

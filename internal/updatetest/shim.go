// Package updatetest stands in for the archive's side of firmware updates
// in the box's tests until it is merged: a TLS front of a real archive
// (its certificate, its client-certificate checks, its handler for every
// other request) that adds an update offer to check-in replies and the
// update key to enrollment replies, and serves update files with Range
// (http.ServeContent), counting the bytes and cutting a download at will.
package updatetest

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/sync/wire"
)

// Shim is the front; Addr is where boxes connect.
type Shim struct {
	Addr string
	arch func() *archive.Archive

	mu        sync.Mutex
	offer     *wire.UpdateOffer
	updateKey string
	files     map[string][]byte // "SERIAL/part"
	cutAfter  int64
	served    int64
	gets      []string
	checkIns  []wire.CheckIn
}

// Start serves the shim in front of the archive arch returns.
func Start(t testing.TB, arch func() *archive.Archive) *Shim {
	t.Helper()
	tc, err := arch().TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Shim{Addr: ln.Addr().String(), arch: arch, files: map[string][]byte{}}
	srv := &http.Server{Handler: s, TLSConfig: tc, TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){}}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { srv.Close() })
	return s
}

// Offer makes every check-in reply carry o (nil: none).
func (s *Shim) Offer(o *wire.UpdateOffer) { s.mu.Lock(); s.offer = o; s.mu.Unlock() }

// SetUpdateKey adds key to enrollment replies.
func (s *Shim) SetUpdateKey(key string) { s.mu.Lock(); s.updateKey = key; s.mu.Unlock() }

// Serve publishes an update's files.
func (s *Shim) Serve(serial uint64, root, boot []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[fmt.Sprintf("%d/root", serial)] = root
	s.files[fmt.Sprintf("%d/boot", serial)] = boot
}

// CutAfter makes the next file response stop after n bytes (0: none).
func (s *Shim) CutAfter(n int64) { s.mu.Lock(); s.cutAfter = n; s.mu.Unlock() }

// Served is the count of file bytes sent; Gets the file requests
// ("GET /path Range").
func (s *Shim) Served() int64 { s.mu.Lock(); defer s.mu.Unlock(); return s.served }
func (s *Shim) Gets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.gets...)
}

// LastHealth is the health of the last check-in received.
func (s *Shim) LastHealth() (wire.Health, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.checkIns) == 0 {
		return wire.Health{}, false
	}
	return s.checkIns[len(s.checkIns)-1].Health, true
}

func (s *Shim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a := s.arch()
	if strings.HasPrefix(r.URL.Path, "/sync/v1/update/") {
		s.file(a, w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	if r.URL.Path == wire.PathCheckIn {
		var m wire.CheckIn
		if json.Unmarshal(body, &m) == nil {
			s.mu.Lock()
			s.checkIns = append(s.checkIns, m)
			s.mu.Unlock()
		}
	}
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, r)
	out := rec.Body.Bytes()
	s.mu.Lock()
	offer, key := s.offer, s.updateKey
	s.mu.Unlock()
	switch {
	case rec.Code == http.StatusOK && r.URL.Path == wire.PathCheckIn && offer != nil:
		var rep wire.CheckInReply
		if err := json.Unmarshal(out, &rep); err == nil {
			rep.Update = offer
			out, _ = json.Marshal(rep)
		}
	case rec.Code == http.StatusOK && r.URL.Path == wire.PathEnroll && key != "":
		var rep wire.EnrollReply
		if err := json.Unmarshal(out, &rep); err == nil && rep.State == wire.EnrollApproved {
			rep.UpdateKey = key
			out, _ = json.Marshal(rep)
		}
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Del("Content-Length")
	w.WriteHeader(rec.Code)
	w.Write(out)
}

// file serves an update file to an enrolled box's certificate.
func (s *Shim) file(a *archive.Archive, w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		http.Error(w, archive.RefuseNoCert, http.StatusUnauthorized)
		return
	}
	if _, err := a.CA.VerifyClient(r.TLS.PeerCertificates[0], 0); err != nil {
		http.Error(w, archive.RefuseOtherCA, http.StatusForbidden)
		return
	}
	key := strings.TrimPrefix(r.URL.Path, "/sync/v1/update/")
	s.mu.Lock()
	data, ok := s.files[key]
	cut := s.cutAfter
	s.cutAfter = 0
	s.gets = append(s.gets, "GET "+r.URL.Path+" "+r.Header.Get("Range"))
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream") // no sniffing read
	http.ServeContent(w, r, "", time.Time{}, &counting{s: s, r: bytes.NewReader(data), left: cut})
}

// counting counts what ServeContent reads and fails after left bytes.
type counting struct {
	s    *Shim
	r    *bytes.Reader
	left int64 // 0: no cut
	n    int64
}

func (c *counting) Read(p []byte) (int, error) {
	if c.left > 0 {
		if c.n >= c.left {
			return 0, errors.New("cut")
		}
		if int64(len(p)) > c.left-c.n {
			p = p[:c.left-c.n]
		}
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.s.mu.Lock()
	c.s.served += int64(n)
	c.s.mu.Unlock()
	return n, err
}

func (c *counting) Seek(off int64, whence int) (int64, error) { return c.r.Seek(off, whence) }

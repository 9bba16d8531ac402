package client_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	gosync "sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/sync/client"
	"github.com/spanvault/spanvault/vault"
)

// countedFrontEnd is e's archive served on a second listener (its own
// http.Server, TLS and handlers) that counts the requests it answers by
// method and, through a relay, the bytes the box sends.
type countedFrontEnd struct {
	addr string
	mu   gosync.Mutex
	n    map[string]int
	wire atomic.Int64
}

func (f *countedFrontEnd) count(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n[method]
}

func (f *countedFrontEnd) reset() {
	f.mu.Lock()
	f.n = map[string]int{}
	f.mu.Unlock()
	f.wire.Store(0)
}

func (e *env) countedFrontEnd(t *testing.T) *countedFrontEnd {
	t.Helper()
	srv, err := e.arch.Server()
	if err != nil {
		t.Fatal(err)
	}
	f := &countedFrontEnd{n: map[string]int{}}
	h := srv.Handler
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.n[r.Method]++
		f.mu.Unlock()
		h.ServeHTTP(w, r)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	// In front: a TCP relay that counts what the box sends (the server
	// would not read a refused body, the relay does).
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pl.Close() })
	f.addr = pl.Addr().String()
	go func() {
		for {
			c, err := pl.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				c.Close()
				continue
			}
			go func() { io.Copy(c, s); c.Close() }()
			go func() { io.Copy(countingWriter{s, &f.wire}, c); s.Close() }()
		}
	}()
	return f
}

type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// Issue 26 (the test process's CPU): a box uploads each recording with
// one request, a PATCH from offset 0, and asks with HEAD only to resume;
// an archive that already holds part of an object refuses the guessed
// offset before the body is sent (Expect: 100-continue), and the box
// resumes from the archive's offset. (Old code: a HEAD before every
// PATCH, two requests per recording.)
func TestUploadAsksOnlyToResume(t *testing.T) {
	e := newEnv(t)
	e.record(synth.Config{Calls: 3, Concurrent: 3, Duration: 5 * time.Second, Start: e.clock.Now().Add(-time.Hour)})
	recs := 0
	pend, _ := e.v.PendingSync(0)
	for _, p := range pend {
		if p.SHA256 != "" {
			recs++
		}
	}
	fe := e.countedFrontEnd(t)
	cfg := e.config()
	cfg.Archives = []string{fe.addr}
	c, err := client.New(cfg, e.v)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.pass(c); err != nil {
		t.Fatal(err)
	}
	e.checkAllArrived()
	if heads, patches := fe.count(http.MethodHead), fe.count(http.MethodPatch); heads != 0 || patches != recs {
		t.Fatalf("%d recordings uploaded with %d HEAD and %d PATCH requests, want 0 and %d", recs, heads, patches, recs)
	}

	// A partial the archive holds (a pass cut after 100 bytes): the
	// guessed offset is refused before the body travels, then HEAD, then
	// the rest.
	e.record(synth.Config{Calls: 1, Duration: time.Minute, Start: e.clock.Now().Add(-time.Hour), Seed: 7})
	pend, _ = e.v.PendingSync(0)
	var en *vault.Entry
	for _, p := range pend {
		if p.SHA256 != "" {
			en = p
		}
	}
	if en == nil || en.Size < 512<<10 {
		t.Fatalf("want a recording of over 512 KiB: %+v", en)
	}
	path, _ := e.v.RecordingPath(en.ID)
	file, _ := os.ReadFile(path)
	if code, msg := e.connect(t, e.box).patch(en.SHA256, 0, en.Size, file[:100]); code != http.StatusNoContent {
		t.Fatalf("first 100 bytes: %d %s", code, msg)
	}
	ap0, _ := e.arch.Index.Appliance(context.Background(), e.box)
	fe.reset()
	c, err = client.New(cfg, e.v) // a box restarted after the cut: it does not know
	if err != nil {
		t.Fatal(err)
	}
	if err := e.pass(c); err != nil {
		t.Fatal(err)
	}
	e.checkAllArrived()
	ap1, _ := e.arch.Index.Appliance(context.Background(), e.box)
	if got := ap1.BytesReceived - ap0.BytesReceived; got != en.Size-100 {
		t.Fatalf("the archive received %d bytes to complete a %d-byte upload it held 100 of", got, en.Size)
	}
	if st := c.State(); st.ResumedBytes != 100 || st.UploadedBytes != en.Size-100 {
		t.Fatalf("resumed %d, uploaded %d bytes; want 100 and %d", st.ResumedBytes, st.UploadedBytes, en.Size-100)
	}
	if heads, patches := fe.count(http.MethodHead), fe.count(http.MethodPatch); heads != 1 || patches != 2 {
		t.Fatalf("resume: %d HEAD and %d PATCH requests, want 1 and 2", heads, patches)
	}
	// What the box sent: the rest of the file once, the refused PATCH's
	// body never (the pass's other messages are a few KiB).
	if w := fe.wire.Load(); w > en.Size-100+64<<10 {
		t.Fatalf("%d bytes came over the wire to send the last %d of the file: the refused PATCH's body travelled", w, en.Size-100)
	}
}

// listCounter is the box's vault, counting the pending lists the client
// asks for (each decodes every entry the vault holds).
type listCounter struct {
	*vault.Vault
	n atomic.Int64
}

func (l *listCounter) PendingSync(limit int) ([]*vault.Entry, error) {
	l.n.Add(1)
	return l.Vault.PendingSync(limit)
}

// Issue 26: a pass lists what waits three times (for the first
// check-in, for the upload, and once for the coverage ledgers and the
// closing check-in), not six (the ledgers, the closing check-in and the
// end of the pass each listed it again), and the backlog it reports is
// still the one after the upload. Each list decodes every entry the
// vault holds (on a box, 90 days of calls).
func TestPassListsPendingThrice(t *testing.T) {
	e := newEnv(t)
	e.record(synth.Config{Calls: 3, Concurrent: 3, Duration: 2 * time.Second, Start: e.clock.Now().Add(-time.Hour)})
	lv := &listCounter{Vault: e.v}
	c, err := client.New(e.config(), lv)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.pass(c); err != nil {
		t.Fatal(err)
	}
	e.checkAllArrived()
	if n := lv.n.Load(); n != 3 {
		t.Fatalf("one pass listed the vault's pending entries %d times, want 3", n)
	}
	if st := c.State(); st.Backlog != 0 || st.BacklogBytes != 0 {
		t.Fatalf("backlog after the pass: %d (%d bytes), want 0", st.Backlog, st.BacklogBytes)
	}
}

package testkit

import (
	"io"
	"net"
	"sync"
	"testing"
)

// CutProxy is a TCP proxy between a client and a server, a link that
// breaks on demand: it counts the bytes it forwards to the client (what
// crossed the wire, TLS records and all) and, armed with CutAfter, closes
// the connection that carries the n-th byte from then on right after
// that byte, both ways, as a link that dies mid-download does.
type CutProxy struct {
	Addr   string // where clients connect
	target string

	mu    sync.Mutex
	down  int64 // bytes forwarded to clients
	cutAt int64 // down at which to cut (0: no cut armed)
	cuts  int
	conns map[net.Conn]struct{}
}

// StartCutProxy forwards connections accepted on ln to target until the
// test ends.
func StartCutProxy(t testing.TB, ln net.Listener, target string) *CutProxy {
	t.Helper()
	p := &CutProxy{Addr: ln.Addr().String(), target: target, conns: map[net.Conn]struct{}{}}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); p.serve(c) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		wg.Wait()
	})
	return p
}

// Down is the count of bytes forwarded to clients so far.
func (p *CutProxy) Down() int64 { p.mu.Lock(); defer p.mu.Unlock(); return p.down }

// Cuts is the count of connections cut.
func (p *CutProxy) Cuts() int { p.mu.Lock(); defer p.mu.Unlock(); return p.cuts }

// CutAfter arms one cut: the connection that carries the n-th byte to
// a client from now on is closed after it.
func (p *CutProxy) CutAfter(n int64) { p.mu.Lock(); p.cutAt = p.down + n; p.mu.Unlock() }

func (p *CutProxy) track(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
}

func (p *CutProxy) serve(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer server.Close()
	p.track(client, server)
	defer func() {
		p.mu.Lock()
		delete(p.conns, client)
		delete(p.conns, server)
		p.mu.Unlock()
	}()
	go func() {
		_, _ = io.Copy(server, client) // ends when either side closes
		server.Close()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, rerr := server.Read(buf)
		p.mu.Lock()
		cut := false
		if p.cutAt > 0 && p.down+int64(n) >= p.cutAt {
			n, cut = int(p.cutAt-p.down), true
			p.cutAt = 0
			p.cuts++
		}
		p.down += int64(n)
		p.mu.Unlock()
		if n > 0 {
			if _, err := client.Write(buf[:n]); err != nil {
				return
			}
		}
		if cut || rerr != nil {
			return
		}
	}
}

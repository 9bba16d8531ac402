package appliance

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/spanvault/spanvault/appliance/config"
)

// TestConnectionsFairWithReserve: idle connections from 200 sources (as
// many as each may hold, again and again) against a server bounded at 64:
// a desk from another address gets in every time (a newcomer takes an
// idle connection of the heaviest source), and once its token was checked
// its kept-alive connection is never taken, however long the flood goes
// on.
func TestConnectionsFairWithReserve(t *testing.T) {
	const token = "desk-token"
	sum := sha256.Sum256([]byte(token))
	a := &Appliance{cfg: &config.Config{API: config.API{Tokens: []config.Token{{Name: "desk", Role: "agent", SHA256: hex.EncodeToString(sum[:])}}}}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := newLimitListener(ln, 64, 8)
	h := a.reserveAuthenticated(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	srv := &http.Server{Handler: h, ConnState: l.connState, ConnContext: connContext, ReadHeaderTimeout: time.Minute}
	go srv.Serve(l)
	defer srv.Close()
	addr := ln.Addr().String()

	var mu sync.Mutex
	var held []net.Conn
	defer func() {
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	}()
	// flood opens n idle connections from each of 200 sources.
	flood := func(n int) {
		var wg sync.WaitGroup
		for s := 0; s < 200; s++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 3, byte(s+1))}, Timeout: 2 * time.Second}
				for i := 0; i < n; i++ {
					c, err := d.Dial("tcp", addr)
					if err != nil {
						continue
					}
					mu.Lock()
					held = append(held, c)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
	}
	desk := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 4, 1)}, Timeout: 2 * time.Second}
	get := func(c net.Conn, br *bufio.Reader, tok string) error {
		c.SetDeadline(time.Now().Add(2 * time.Second))
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: box\r\nAuthorization: Bearer %s\r\n\r\n", tok)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	flood(8)
	// A new connection from the desk, each time, during the flood.
	answered := 0
	for i := 0; i < 50; i++ {
		flood(1)
		c, err := desk.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("desk dial: %v", err)
		}
		if err := get(c, bufio.NewReader(c), token); err == nil {
			answered++
		}
		c.Close()
	}
	// One kept-alive desk connection, authenticated by its first request.
	c, err := desk.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	kept := 0
	if get(c, br, token) == nil {
		for i := 0; i < 20; i++ {
			flood(2)
			if get(c, br, token) == nil {
				kept++
			}
		}
	}
	t.Logf("desk: %d of 50 new connections answered, %d of 20 requests on its kept connection; %d refused or taken", answered, kept, l.Refused())
	if answered != 50 || kept != 20 {
		t.Errorf("a flood of idle connections from 200 sources kept the desk out: %d of 50 new connections answered, %d of 20 on its authenticated connection", answered, kept)
	}
	l.mu.Lock()
	open, auth := l.open, l.auth
	l.mu.Unlock()
	if open > 64 || auth != 1 {
		t.Errorf("%d connections open (bound 64), %d kept as authenticated (want the desk's)", open, auth)
	}
}

package client_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/sync/client"
)

// stallLink is a real TCP link to target that, once stalled, stops
// passing the archive's bytes to the box (the connection stays open,
// nothing arrives: an archive or a middlebox that hangs mid-download).
type stallLink struct {
	addr    string
	once    sync.Once
	stalled chan struct{}
}

func startStallLink(t *testing.T, target string) *stallLink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &stallLink{addr: ln.Addr().String(), stalled: make(chan struct{})}
	var conns []net.Conn
	var mu sync.Mutex
	t.Cleanup(func() {
		ln.Close()
		l.stall()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, s)
			mu.Unlock()
			go func() { _, _ = io.Copy(s, c) }()
			go func() {
				buf := make([]byte, 16<<10)
				for {
					n, err := s.Read(buf)
					select {
					case <-l.stalled:
						return // hold the connection, pass nothing
					default:
					}
					if n > 0 {
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						c.Close()
						return
					}
				}
			}()
		}
	}()
	return l
}

func (l *stallLink) stall() { l.once.Do(func() { close(l.stalled) }) }

// TestUpdateDownloadStallEnds: the archive's bytes stop arriving in the
// middle of an update download over a real TCP link that stays open; the
// box's read ends with ErrUpdateStalled after its stall window (here
// 200ms) instead of blocking the sync pass. (Old code: the read waited
// for ever; the test gives up after 30s.)
func TestUpdateDownloadStallEnds(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	addr, _ := serveObserved(t, e.arch)
	link := startStallLink(t, addr)
	key, err := archive.ReadUpdateKey(filepath.Join(e.dir, archive.UpdateKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	root := bytes.Repeat([]byte("squashfs"), 4<<20) // 32 MiB: more than the link's buffers hold
	if _, err := e.arch.Publish(ctx, e.build(t, key, 8, "arm64", root, []byte("boot fs")), "ops"); err != nil {
		t.Fatal(err)
	}
	cc := e.config()
	cc.Archives = []string{link.addr}
	cc.UpdateKey = filepath.Join(e.enroll, "update.pub")
	cc.Firmware = client.Firmware{Serial: 7, Arch: "arm64"}
	cc.OnUpdate = func(client.Update) error { return nil }
	cc.UpdateStall = 200 * time.Millisecond
	c, err := client.New(cc, e.v)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.arch.Roll(ctx, archive.RollOptions{Serial: 8, Target: "box:" + e.box, ConfirmWithin: 20 * time.Minute, By: "ops"}); err != nil {
		t.Fatal(err)
	}
	pctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := c.Pass(pctx, client.Options{Upload: false}); err != nil { // offered
		t.Fatal(err)
	}
	rc, err := c.FetchUpdate(pctx, 8, "root", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.ReadFull(rc, make([]byte, 64<<10)); err != nil {
		t.Fatalf("the first bytes: %v", err)
	}
	link.stall()
	done := make(chan error, 1)
	go func() {
		n, err := io.Copy(io.Discard, rc)
		if err == nil && n+64<<10 < int64(len(root)) {
			err = io.ErrUnexpectedEOF
		}
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, client.ErrUpdateStalled) {
			t.Fatalf("stalled download ended with %v, want ErrUpdateStalled", err)
		}
		t.Logf("stalled download: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the download still waits 30s after the archive's bytes stopped (stall window 200ms): no stall timeout")
	}
}

package appliance

import (
	"container/list"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
)

// limitListener bounds the status and API server's connections, in all
// and per source address, fairly, with room kept for authenticated API
// clients:
//
//   - A connection over the per-source bound (authenticated ones not
//     counted) is closed as soon as it is
//     accepted (never left in the kernel's queue), so that idle
//     connections cannot use up the descriptors recording needs.
//   - When all max slots are taken, a new connection takes the slot of an
//     idle one (no request under way: before its first request, or
//     between two) from the source that holds the most connections, if
//     that source holds more than the newcomer's own: the oldest idle
//     connection of that source is closed. A flood from many sources
//     thus levels out at a connection or two per source and a desk's
//     new connection always gets in; only when every source holds as
//     many as the newcomer's, or no connection is idle, is it refused.
//   - A connection whose request carried a valid API token (checked on
//     its first request, before anything else is done) is served from
//     reserved capacity: it is never taken for a newcomer, up to half of
//     max such connections. An agent's desk keeps its connection to pause
//     a recording whatever a flood from other sources does.
//
// Refusals and connections closed for a newcomer are counted (Refused),
// an attack sign.
type limitListener struct {
	net.Listener
	max, perIP int

	mu      sync.Mutex
	open    int
	auth    int // connections kept as authenticated
	byIP    map[netip.Addr]*connSource
	refused atomic.Uint64
	evicted atomic.Uint64
}

// connSource is one source address's connections.
type connSource struct {
	ip     netip.Addr
	n      int       // connections not kept as authenticated: what fairness counts
	authed int       // connections kept as authenticated
	idle   list.List // of *limitConn that may be taken, oldest first
}

func newLimitListener(ln net.Listener, max, perIP int) *limitListener {
	return &limitListener{Listener: ln, max: max, perIP: perIP, byIP: map[netip.Addr]*connSource{}}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		var ip netip.Addr
		if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
			ip = ta.AddrPort().Addr().Unmap()
		}
		l.mu.Lock()
		src := l.byIP[ip]
		own := 0
		if src != nil {
			own = src.n
		}
		var victim *limitConn
		if own >= l.perIP {
			l.mu.Unlock()
			l.refused.Add(1)
			c.Close()
			continue
		}
		if l.open >= l.max {
			if victim = l.victim(own); victim == nil {
				l.mu.Unlock()
				l.refused.Add(1)
				c.Close()
				continue
			}
			l.release(victim)
		}
		if src == nil {
			src = &connSource{ip: ip}
			l.byIP[ip] = src
		}
		l.open++
		src.n++
		lc := &limitConn{Conn: c, l: l, src: src}
		lc.elem = src.idle.PushBack(lc)
		l.mu.Unlock()
		if victim != nil {
			l.evicted.Add(1)
			victim.Conn.Close()
		}
		return lc, nil
	}
}

// victim is the oldest idle connection of the source holding the most
// connections, if it holds more than own; nil if none.
func (l *limitListener) victim(own int) *limitConn {
	var best *connSource
	for _, s := range l.byIP {
		if s.idle.Len() == 0 || s.n <= own {
			continue
		}
		if best == nil || s.n > best.n {
			best = s
		}
	}
	if best == nil {
		return nil
	}
	return best.idle.Front().Value.(*limitConn)
}

// release gives c's slot back; l.mu is held.
func (l *limitListener) release(c *limitConn) {
	if c.released {
		return
	}
	c.released = true
	l.open--
	if c.authed {
		l.auth--
	}
	if c.elem != nil {
		c.src.idle.Remove(c.elem)
		c.elem = nil
	}
	if c.authed {
		c.src.authed--
	} else {
		c.src.n--
	}
	if c.src.n <= 0 && c.src.authed <= 0 {
		delete(l.byIP, c.src.ip)
	}
}

// Refused counts connections closed at the bounds, and idle ones closed
// to let a newcomer from a lighter source in.
func (l *limitListener) Refused() uint64 { return l.refused.Load() + l.evicted.Load() }

// connState follows the server's view of each connection (http.Server's
// ConnState): a connection serving a request cannot be taken.
func (l *limitListener) connState(nc net.Conn, st http.ConnState) {
	c := unwrapConn(nc)
	if c == nil || c.l != l {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.released {
		return
	}
	switch st {
	case http.StateActive:
		if c.elem != nil {
			c.src.idle.Remove(c.elem)
			c.elem = nil
		}
	case http.StateIdle:
		if c.elem == nil && !c.authed {
			c.elem = c.src.idle.PushBack(c)
		}
	}
}

// authenticated keeps c out of reach of newcomers, within half of max.
func (l *limitListener) authenticated(c *limitConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.released || c.authed || l.auth >= l.max/2 {
		return
	}
	c.authed = true
	l.auth++
	c.src.n--
	c.src.authed++
	if c.elem != nil {
		c.src.idle.Remove(c.elem)
		c.elem = nil
	}
}

type limitConn struct {
	net.Conn
	l    *limitListener
	src  *connSource
	once sync.Once
	// Guarded by l.mu.
	elem     *list.Element // in src.idle while it may be taken
	authed   bool
	released bool
}

func (c *limitConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		c.l.release(c)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

// unwrapConn finds the limitConn under a server's connection (TLS wraps
// it).
func unwrapConn(nc net.Conn) *limitConn {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	c, _ := nc.(*limitConn)
	return c
}

type connKey struct{}

// connContext puts the connection into its requests' context
// (http.Server's ConnContext).
func connContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// reserveAuthenticated serves the API: a request carrying a valid token
// moves its connection into the reserved capacity before it is handled.
func (a *Appliance) reserveAuthenticated(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if nc, ok := r.Context().Value(connKey{}).(net.Conn); ok {
			if c := unwrapConn(nc); c != nil && !c.isAuthed() {
				if _, ok := a.authenticate(r); ok {
					c.l.authenticated(c)
				}
			}
		}
		h.ServeHTTP(w, r)
	})
}

func (c *limitConn) isAuthed() bool {
	c.l.mu.Lock()
	defer c.l.mu.Unlock()
	return c.authed
}

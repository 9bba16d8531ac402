package appliance

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// limitListener bounds the status and API server's connections, in all
// and per source address. A connection over either bound is closed as soon
// as it is accepted (never left in the kernel's queue), so that idle
// connections cannot use up the descriptors recording needs, and one
// source cannot lock others out of the page.
type limitListener struct {
	net.Listener
	max, perIP int

	mu      sync.Mutex
	open    int
	byIP    map[netip.Addr]int
	refused atomic.Uint64
}

func newLimitListener(ln net.Listener, max, perIP int) *limitListener {
	return &limitListener{Listener: ln, max: max, perIP: perIP, byIP: map[netip.Addr]int{}}
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
		if l.open >= l.max || l.byIP[ip] >= l.perIP {
			l.mu.Unlock()
			l.refused.Add(1)
			c.Close()
			continue
		}
		l.open++
		l.byIP[ip]++
		l.mu.Unlock()
		return &limitConn{Conn: c, l: l, ip: ip}, nil
	}
}

// Refused counts connections closed at the bounds.
func (l *limitListener) Refused() uint64 { return l.refused.Load() }

type limitConn struct {
	net.Conn
	l    *limitListener
	ip   netip.Addr
	once sync.Once
}

func (c *limitConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		c.l.open--
		if c.l.byIP[c.ip]--; c.l.byIP[c.ip] <= 0 {
			delete(c.l.byIP, c.ip)
		}
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

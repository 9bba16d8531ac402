package testkit

import (
	"bytes"
	"sync"
	"time"
)

// Clock is a clock tests move by hand, safe for concurrent use: hand its
// Now to what takes a clock (archive.Archive.Now, vault.Options.Now), its
// Synced to what asks whether the clock is set (vault.Options.ClockSynced).
type Clock struct {
	mu       sync.Mutex
	t        time.Time
	unsynced bool
}

// NewClock returns a clock at t, synchronised.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Synced reports whether the clock counts as synchronised (NTP).
func (c *Clock) Synced() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.unsynced
}

// SetSynced says whether the clock counts as synchronised.
func (c *Clock) SetSynced(on bool) {
	c.mu.Lock()
	c.unsynced = !on
	c.mu.Unlock()
}

// LockedBuffer collects output written from other goroutines (a child
// process's, a logger's) while the test reads it.
type LockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns what was written so far.
func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

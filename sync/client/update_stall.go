package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// DefaultUpdateStall is Config.UpdateStall's default.
const DefaultUpdateStall = time.Minute

// ErrUpdateStalled: an update download received no byte within the
// stall window (Config.UpdateStall); what arrived is kept and the next
// pass resumes after it.
var ErrUpdateStalled = errors.New("sync: update: the download stalled")

// stall cancels a download's request when one read waits longer than its
// window. Only the time inside a read counts: the rate cap's waits
// between reads do not.
type stall struct {
	window time.Duration
	mu     sync.Mutex
	t      *time.Timer
	fired  bool
	cancel context.CancelFunc
}

func (c *Client) newStall(cancel context.CancelFunc) *stall {
	w := c.cfg.UpdateStall
	if w <= 0 {
		w = DefaultUpdateStall
	}
	return &stall{window: w, cancel: cancel}
}

// begin starts the window before a read.
func (s *stall) begin() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.t == nil {
		s.t = time.AfterFunc(s.window, s.fire)
		return
	}
	s.t.Reset(s.window)
}

// end stops it after the read.
func (s *stall) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.t != nil {
		s.t.Stop()
	}
}

func (s *stall) fire() {
	s.mu.Lock()
	s.fired = true
	s.mu.Unlock()
	s.cancel()
}

// wrap names a read error caused by the stall window.
func (s *stall) wrap(err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil || !s.fired {
		return err
	}
	return fmt.Errorf("%w: no byte for %s (%v)", ErrUpdateStalled, s.window, err)
}

// stallBody is a download's body under its stall window.
type stallBody struct {
	r      io.ReadCloser
	st     *stall
	cancel context.CancelFunc
}

func (b *stallBody) Read(p []byte) (int, error) {
	b.st.begin()
	n, err := b.r.Read(p)
	b.st.end()
	if err != nil && err != io.EOF {
		err = b.st.wrap(err)
	}
	return n, err
}

func (b *stallBody) Close() error {
	b.st.end()
	err := b.r.Close()
	b.cancel()
	return err
}

package store

import (
	"sort"
	"sync"
	"time"
)

// StepTimes adds up the wall time spent in each step of an upload
// (staging write, fsync, hashing, each request to the bucket): the
// profile make cluster prints. A few map updates per request; always on.
var StepTimes = &Steps{}

// Steps is a table of step -> count and total wall time, safe for
// concurrent use.
type Steps struct {
	mu sync.Mutex
	m  map[string]*Step
}

// Step is one step's tally.
type Step struct {
	Name  string
	Count int64
	Total time.Duration
}

// Add counts one occurrence of step that took d.
func (s *Steps) Add(step string, d time.Duration) {
	s.mu.Lock()
	if s.m == nil {
		s.m = map[string]*Step{}
	}
	st := s.m[step]
	if st == nil {
		st = &Step{Name: step}
		s.m[step] = st
	}
	st.Count++
	st.Total += d
	s.mu.Unlock()
}

// Since counts one occurrence of step that began at t0.
func (s *Steps) Since(step string, t0 time.Time) { s.Add(step, time.Since(t0)) }

// Reset forgets every tally.
func (s *Steps) Reset() {
	s.mu.Lock()
	s.m = nil
	s.mu.Unlock()
}

// Snapshot returns the tallies, largest total first.
func (s *Steps) Snapshot() []Step {
	s.mu.Lock()
	out := make([]Step, 0, len(s.m))
	for _, st := range s.m {
		out = append(out, *st)
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Total > out[j].Total })
	return out
}

// timedWriter adds the time spent in its writes to a step (hashing).
type timedWriter struct {
	w interface{ Write([]byte) (int, error) }
	d time.Duration
}

func (t *timedWriter) Write(b []byte) (int, error) {
	t0 := time.Now()
	n, err := t.w.Write(b)
	t.d += time.Since(t0)
	return n, err
}

package access

import (
	"bytes"
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/capture/audio"
	"github.com/spanvault/spanvault/internal/httperr"
	"github.com/spanvault/spanvault/record"
	"github.com/spanvault/spanvault/record/media"
	"github.com/spanvault/spanvault/sync/wire"
	"github.com/spanvault/spanvault/vault/sealed"
)

var (
	errNoKeys   = errors.New("the access service runs without the archive's identity: only what is in clear is listed")
	errDenied   = errors.New("not allowed")
	errNotFound = errors.New("no such recording")
	errErased   = errors.New("the recording was erased")
)

// recording finds a live recording row: not erased (only an erasure sets
// deleted_at; a recording its box let go stays the archive's to serve).
func (s *Service) recording(ctx context.Context, app, id string) (*index.Record, error) {
	rs, err := s.A.Index.Records(ctx, index.Query{Appliance: app, ID: id, Kind: wire.KindRecording})
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return nil, errNotFound
	}
	if !rs[0].DeletedAt.IsZero() || s.erasing(ctx, app, id) {
		return nil, errErased
	}
	return &rs[0], nil
}

// rendered is a call decoded to stereo WAV (caller left, callee right).
type rendered struct {
	wav         []byte
	seconds     float64
	undecodable map[string]int
	truncated   bool
}

// audioCache keeps decoded calls in memory, least recently used first out,
// within a byte budget, so that seeking in a long call is a slice of what
// was decoded once.
type audioCache struct {
	mu   sync.Mutex
	max  int64
	used int64
	lru  *list.List // of *cacheEntry, most recent first
	m    map[string]*list.Element
	// building: one decode per recording at a time.
	building map[string]*sync.Mutex
}

type cacheEntry struct {
	key string
	r   *rendered
}

func newAudioCache(max int64) *audioCache {
	return &audioCache{max: max, lru: list.New(), m: map[string]*list.Element{}, building: map[string]*sync.Mutex{}}
}

func (c *audioCache) get(key string) *rendered {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[key]; ok {
		c.lru.MoveToFront(el)
		return el.Value.(*cacheEntry).r
	}
	return nil
}

func (c *audioCache) put(key string, r *rendered) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[key]; ok || int64(len(r.wav)) > c.max {
		return
	}
	c.m[key] = c.lru.PushFront(&cacheEntry{key, r})
	c.used += int64(len(r.wav))
	for c.used > c.max {
		el := c.lru.Back()
		e := el.Value.(*cacheEntry)
		c.lru.Remove(el)
		delete(c.m, e.key)
		c.used -= int64(len(e.r.wav))
	}
}

// drop forgets a recording (it was erased).
func (c *audioCache) drop(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[key]; ok {
		c.used -= int64(len(el.Value.(*cacheEntry).r.wav))
		c.lru.Remove(el)
		delete(c.m, key)
	}
}

func (c *audioCache) lock(key string) func() {
	c.mu.Lock()
	m, ok := c.building[key]
	if !ok {
		m = &sync.Mutex{}
		c.building[key] = m
	}
	c.mu.Unlock()
	m.Lock()
	return m.Unlock
}

// render decodes a recording (from the cache when it is there).
func (s *Service) render(ctx context.Context, rec *index.Record) (*rendered, error) {
	if s.Keys == nil {
		return nil, errNoKeys
	}
	key := rec.SHA256
	if r := s.cache.get(key); r != nil {
		return r, nil
	}
	unlock := s.cache.lock(key)
	defer unlock()
	if r := s.cache.get(key); r != nil {
		return r, nil
	}
	r, err := s.decode(ctx, rec)
	if err != nil {
		return nil, err
	}
	s.cache.put(key, r)
	return r, nil
}

// readFrames opens the stored sealed file and hands each frame to fn.
// A recording cut short (the box crashed while writing it) ends at its
// last complete chunk and reports truncated.
func (s *Service) readFrames(ctx context.Context, rec *index.Record, fn func(*sealed.Frame)) (truncated bool, err error) {
	rc, _, err := s.A.Store.Open(ctx, rec.SHA256)
	if err != nil {
		return false, fmt.Errorf("opening %s/%s: %w", rec.Appliance, rec.ID, err)
	}
	defer rc.Close()
	pr, err := s.Keys.Open(rc)
	if err != nil {
		return false, fmt.Errorf("%s/%s: %w", rec.Appliance, rec.ID, err)
	}
	sr, err := sealed.NewReader(pr)
	if err != nil {
		if errors.Is(err, sealed.ErrTruncated) || errors.Is(err, sealed.ErrFirstChunk) {
			return true, nil
		}
		return false, err
	}
	var f sealed.Frame
	for {
		kind, _, err := sr.Next(&f)
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			var e record.Entry
			if uerr := storedEntry(rec, &e); uerr != nil {
				return false, errors.Join(err, uerr)
			}
			if e.State == record.StateTruncated {
				return true, nil
			}
			return true, fmt.Errorf("%s/%s: %w", rec.Appliance, rec.ID, err)
		}
		if kind == sealed.RecFrame {
			fn(&f)
		}
	}
}

func (s *Service) decode(ctx context.Context, rec *index.Record) (*rendered, error) {
	var e record.Entry
	if err := storedEntry(rec, &e); err != nil {
		return nil, err
	}
	// One copy of each audio payload; other frames are not kept.
	ar := media.NewAudioReader(e.Formats)
	var pkts []audio.Packet
	truncated, err := s.readFrames(ctx, rec, func(f *sealed.Frame) {
		if p, ok := ar.Packet(f); ok {
			p.Payload = append([]byte(nil), p.Payload...)
			pkts = append(pkts, p)
		}
	})
	if err != nil {
		return nil, err
	}
	res, err := audio.RenderWith(pkts, media.RenderOptions(&e))
	if err != nil {
		return nil, err
	}
	if res.Decoded == 0 {
		return nil, httperr.New(http.StatusUnprocessableEntity, fmt.Sprintf("no audio this archive can decode (codecs: %v): use the pcap export", res.Undecodable))
	}
	var buf bytes.Buffer
	buf.Grow(44 + 4*len(res.Left))
	if err := res.WriteWAV(&buf); err != nil {
		return nil, err
	}
	return &rendered{wav: buf.Bytes(), seconds: float64(len(res.Left)) / float64(res.Rate), undecodable: res.Undecodable, truncated: truncated}, nil
}

// pcap writes a recording's packets as a capture file (the export).
func (s *Service) pcap(ctx context.Context, rec *index.Record, w io.Writer) error {
	var frames []sealed.Frame
	if _, err := s.readFrames(ctx, rec, func(f *sealed.Frame) {
		c := *f
		c.Data = append([]byte(nil), f.Data...)
		frames = append(frames, c)
	}); err != nil {
		return err
	}
	return media.WritePcap(w, frames)
}

// TimelineEvent is a call event placed on the player's timeline.
type TimelineEvent struct {
	At     float64 `json:"at_s"` // seconds from the call's start
	Kind   string  `json:"kind"`
	Detail string  `json:"detail,omitempty"`
}

// timeline lists the call's events (DTMF, holds, pauses, consent, gaps)
// for a user who may hear the call: the sealed events when the identity
// is here, the clear ones otherwise.
func (s *Service) timeline(rec *index.Record) []TimelineEvent {
	var e record.Entry
	if err := storedEntry(rec, &e); err != nil {
		s.A.Logger.Error("timeline", "err", err)
	}
	// Sample 0 of the WAV is the first media packet.
	start := e.Answer
	for _, st := range e.Streams {
		if !st.First.IsZero() && (start.IsZero() || st.First.Before(start)) {
			start = st.First
		}
	}
	if start.IsZero() {
		start = e.Start
	}
	var out []TimelineEvent
	at := func(t time.Time) float64 { return max(0, t.Sub(start).Seconds()) }
	if p := s.personal(rec.Sealed); p != nil && len(p.Events) > 0 {
		for _, ev := range p.Events {
			out = append(out, TimelineEvent{At: at(ev.Time), Kind: ev.Kind, Detail: strings.TrimSpace(ev.Detail + " " + ev.Digit)})
		}
		return out
	}
	for _, ev := range e.Events {
		out = append(out, TimelineEvent{At: at(ev.Time), Kind: ev.Kind, Detail: ev.Detail})
	}
	return out
}

// DropCache forgets every decoded call and every plan (they are made
// again on demand).
func (s *Service) DropCache() {
	s.plans.mu.Lock()
	s.plans.m = nil
	s.plans.mu.Unlock()
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	s.cache.lru.Init()
	s.cache.m = map[string]*list.Element{}
	s.cache.used = 0
}

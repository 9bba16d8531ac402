package access

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"filippo.io/age"

	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/capture/audio"
	"github.com/spanvault/spanvault/record"
	"github.com/spanvault/spanvault/record/media"
	"github.com/spanvault/spanvault/vault/sealed"
)

// Playback by position: a sealed recording has a sync point every 10 s
// of capture time (package sealed), and age's STREAM chunks can be
// decrypted one by one, so a request for minute 55 of an hour-long call
// finds the sync point before it by bisection (a few chunks decrypted per
// probe), decodes from there and streams samples as soon as no later
// packet can still change them. Where a sample lands comes from the call's
// Plan (each stream's first packet, and the last packets), built once per
// recording from a few windows and kept in memory. Recordings without
// sync points (shorter than 10 s, or sealed before them) are decoded whole.

var errNotSeekable = errors.New("recording has no sync points")

// seekable is a recording opened for reading at any position.
type seekable struct {
	pt      io.ReaderAt // the plaintext (decrypted chunk by chunk)
	size    int64
	closer  io.Closer
	entry   record.Entry
	formats map[uint8]string
}

func (s *Service) openSeekable(ctx context.Context, rec *index.Record) (*seekable, error) {
	rc, size, err := s.A.Store.Open(ctx, rec.SHA256)
	if err != nil {
		return nil, fmt.Errorf("opening %s/%s: %w", rec.Appliance, rec.ID, err)
	}
	ra, ok := rc.(io.ReaderAt)
	if !ok {
		rc.Close()
		return nil, errNotSeekable
	}
	pt, psize, err := age.DecryptReaderAt(ra, size, s.Keys.Identities()...)
	if err != nil {
		rc.Close()
		return nil, fmt.Errorf("%s/%s: %w", rec.Appliance, rec.ID, err)
	}
	if _, err := sealed.FindSync(pt, psize, 0); err != nil {
		rc.Close()
		return nil, errNotSeekable
	}
	k := &seekable{pt: pt, size: psize, closer: rc}
	if err := storedEntry(rec, &k.entry); err != nil {
		rc.Close()
		return nil, err
	}
	k.formats = k.entry.Formats
	return k, nil
}

// syncBefore is the last sync point before t (the stream's start when
// none is).
func (k *seekable) syncBefore(t time.Time) (sealed.SyncPoint, error) {
	var best sealed.SyncPoint // Offset 0: the start
	lo, hi := int64(0), k.size
	for hi-lo > 256<<10 {
		mid := lo + (hi-lo)/2
		sp, err := sealed.FindSync(k.pt, k.size, mid)
		switch {
		case errors.Is(err, sealed.ErrNoSync):
			hi = mid
		case err != nil:
			return best, err
		case sp.Time.Before(t):
			best, lo = sp, sp.Offset+1
		default:
			hi = mid
		}
	}
	for from := lo; ; {
		sp, err := sealed.FindSync(k.pt, k.size, from)
		if errors.Is(err, sealed.ErrNoSync) || (err == nil && !sp.Time.Before(t)) {
			return best, nil
		}
		if err != nil {
			return best, err
		}
		best, from = sp, sp.Offset+1
	}
}

func (k *seekable) reader(sp sealed.SyncPoint) (*sealed.Reader, error) {
	if sp.Offset == 0 {
		return sealed.NewReader(io.NewSectionReader(k.pt, 0, k.size))
	}
	return sealed.NewReaderAt(k.pt, k.size, sp), nil
}

// each reads audio packets from the sync point before from until fn says
// stop or the recording ends (a recording cut short ends where it is cut).
func (k *seekable) each(from time.Time, fn func(p *audio.Packet, t time.Time) bool) error {
	sp, err := k.syncBefore(from)
	if err != nil {
		return err
	}
	r, err := k.reader(sp)
	if err != nil {
		return err
	}
	ar := media.NewAudioReader(k.formats)
	var f sealed.Frame
	for {
		kind, _, err := r.Next(&f)
		if err == io.EOF || errors.Is(err, sealed.ErrTruncated) {
			return nil
		}
		if err != nil {
			if k.entry.State == record.StateTruncated {
				return nil
			}
			return err
		}
		if kind != sealed.RecFrame {
			continue
		}
		p, ok := ar.Packet(&f)
		if !ok {
			if !fn(nil, f.Time) {
				return nil
			}
			continue
		}
		if !fn(&p, f.Time) {
			return nil
		}
	}
}

// plan lays out the call from a few windows: from the start until every
// stream that begins early was seen, around each later stream's start
// (the index entry says when), and the end.
func (k *seekable) plan() (*audio.Plan, error) {
	p := &audio.Plan{Rate: 8000, Anchors: map[audio.StreamKey]audio.Anchor{}, Keep: media.Explained(&k.entry)}
	var last time.Time
	for _, st := range k.entry.Streams {
		if audio.Kind(st.Codec, st.PayloadType) == "G722" {
			p.Rate = 16000
		}
		if st.Last.After(last) {
			last = st.Last
		}
	}
	seen := func(pk *audio.Packet) {
		kind := audio.Kind(pk.Codec, pk.PT)
		if kind == "" || kind == "skip" || (p.Keep != nil && !p.Keep[audio.SSRCDir{SSRC: pk.SSRC, Left: pk.Left}]) {
			return
		}
		if kind == "G722" {
			p.Rate = 16000
		}
		sk := audio.StreamKey{SSRC: pk.SSRC, Left: pk.Left, Flow: pk.Flow}
		if a, ok := p.Anchors[sk]; !ok || pk.Time.Before(a.First) {
			p.Anchors[sk] = audio.Anchor{First: pk.Time, FirstTS: pk.TS}
		}
		if p.Start.IsZero() || pk.Time.Before(p.Start) {
			p.Start = pk.Time
		}
	}
	var until time.Time
	err := k.each(time.Time{}, func(pk *audio.Packet, t time.Time) bool {
		if pk != nil {
			seen(pk)
		}
		if !p.Start.IsZero() && until.IsZero() {
			until = p.Start.Add(12 * time.Second)
		}
		return until.IsZero() || t.Before(until)
	})
	if err != nil {
		return nil, err
	}
	if p.Start.IsZero() {
		return nil, errNotSeekable
	}
	for _, st := range k.entry.Streams {
		if st.First.IsZero() || st.First.Before(until) {
			continue
		}
		stop := st.First.Add(2 * time.Second)
		if err := k.each(st.First.Add(-2*time.Second), func(pk *audio.Packet, t time.Time) bool {
			if pk != nil {
				seen(pk)
			}
			return t.Before(stop)
		}); err != nil {
			return nil, err
		}
	}
	// The end: the furthest sample any of the last packets reaches.
	if last.IsZero() {
		last = k.entry.End
	}
	err = k.each(last.Add(-2*time.Second), func(pk *audio.Packet, t time.Time) bool {
		if pk != nil {
			if pos, n, ok := p.Pos(pk); ok && pos+int64(n) > p.Samples {
				p.Samples = pos + int64(n)
			}
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	if p.Samples == 0 {
		return nil, errNotSeekable
	}
	if b := media.RenderBound(&k.entry); b > 0 {
		p.Samples = min(p.Samples, p.SampleAt(p.Start.Add(b)))
	}
	return p, nil
}

// plans keeps each recording's plan (a few hundred bytes) by SHA-256.
type plans struct {
	mu sync.Mutex
	m  map[string]*audio.Plan
}

func (pl *plans) get(sum string) *audio.Plan {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	p := pl.m[sum]
	if p == nil {
		return nil
	}
	c := *p
	c.Anchors = maps.Clone(p.Anchors) // Pos may add to it
	return &c
}

func (pl *plans) put(sum string, p *audio.Plan) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if pl.m == nil || len(pl.m) > 100_000 {
		pl.m = map[string]*audio.Plan{}
	}
	c := *p
	c.Anchors = maps.Clone(p.Anchors)
	pl.m[sum] = &c
}

// parseRange reads one "bytes=" range of a resource of size bytes; ok is
// false for no (or a multi-part) range, which is answered whole.
func parseRange(h string, size int64) (first, last int64, ok bool, err error) {
	spec, found := strings.CutPrefix(h, "bytes=")
	if h == "" || !found || strings.Contains(spec, ",") {
		return 0, size - 1, false, nil
	}
	a, b, _ := strings.Cut(strings.TrimSpace(spec), "-")
	switch {
	case a == "":
		n, e := strconv.ParseInt(b, 10, 64)
		if e != nil || n <= 0 {
			return 0, 0, false, errors.New("bad range")
		}
		first, last = max(size-n, 0), size-1
	default:
		f, e := strconv.ParseInt(a, 10, 64)
		if e != nil || f < 0 {
			return 0, 0, false, errors.New("bad range")
		}
		first, last = f, size-1
		if b != "" {
			l, e := strconv.ParseInt(b, 10, 64)
			if e != nil || l < f {
				return 0, 0, false, errors.New("bad range")
			}
			last = min(l, size-1)
		}
	}
	if first >= size {
		return 0, 0, false, errors.New("range beyond the end")
	}
	return first, last, true, nil
}

// serveAudio answers a playback request: by position where the recording
// allows it, else from the whole call decoded once (and cached).
func (s *Service) serveAudio(w http.ResponseWriter, r *http.Request, rec *index.Record) error {
	if s.Keys == nil {
		return errNoKeys
	}
	k, err := s.openSeekable(r.Context(), rec)
	if err == nil {
		defer k.closer.Close()
		p := s.plans.get(rec.SHA256)
		if p == nil {
			if p, err = k.plan(); err == nil {
				s.plans.put(rec.SHA256, p)
			}
		}
		if err == nil {
			return s.streamRange(w, r, k, p)
		}
	}
	if !errors.Is(err, errNotSeekable) {
		return err
	}
	out, err := s.render(r.Context(), rec)
	if err != nil {
		return err
	}
	serveWAV(w, r, out)
	return nil
}

// streamRange streams the requested bytes of the call's WAV, decoding
// from the sync point before them and writing each stretch of samples as
// soon as no later packet can reach it.
func (s *Service) streamRange(w http.ResponseWriter, r *http.Request, k *seekable, p *audio.Plan) error {
	total := 44 + p.Samples*4
	first, last, partial, err := parseRange(r.Header.Get("Range"), total)
	h := w.Header()
	h.Set("Content-Type", "audio/wav")
	h.Set("Accept-Ranges", "bytes")
	h.Set("Cache-Control", "no-store")
	if err != nil {
		h.Set("Content-Range", fmt.Sprintf("bytes */%d", total))
		w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
		return nil
	}
	h.Set("Content-Length", strconv.FormatInt(last-first+1, 10))
	if partial {
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, last, total))
		w.WriteHeader(http.StatusPartialContent)
	} else {
		w.WriteHeader(http.StatusOK)
	}
	if r.Method == http.MethodHead {
		return nil
	}
	if first < 44 {
		if _, err := w.Write(audio.WAVHeader(p.Rate, p.Samples)[first:min(last+1, 44)]); err != nil {
			return nil
		}
	}
	if last < 44 {
		return nil
	}
	sFrom, sTo := max(first-44, 0)/4, min((last-44)/4+1, p.Samples)
	// A packet is placed by its RTP timestamp; one captured up to this
	// margin away from where its samples land (jitter, reordering, clock
	// drift of up to 0.5 %) is still caught.
	margin := func(t time.Time) time.Duration {
		return 2*time.Second + time.Duration(float64(t.Sub(p.Start))*0.005)
	}
	win := p.Window(sFrom)
	buf := make([]byte, 0, 64<<10)
	emit := func(upto int64) bool {
		s0 := win.From()
		left, right := win.Take(upto)
		buf = buf[:0]
		for i := range left {
			buf = binary.LittleEndian.AppendUint16(buf, uint16(left[i]))
			buf = binary.LittleEndian.AppendUint16(buf, uint16(right[i]))
		}
		// Bytes of samples [s0, upto) that fall in [first, last].
		b0 := 44 + 4*s0
		lo, hi := max(first-b0, 0), min(last+1-b0, int64(len(buf)))
		if lo < hi {
			if _, err := w.Write(buf[lo:hi]); err != nil {
				return false
			}
		}
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		return true
	}
	at := p.TimeAt(sFrom)
	var lastFlush time.Time
	alive := true
	err = k.each(at.Add(-margin(at)), func(pk *audio.Packet, t time.Time) bool {
		if pk != nil {
			win.Add(pk)
		}
		if t.Sub(lastFlush) < 500*time.Millisecond {
			return true
		}
		lastFlush = t
		safe := p.SampleAt(t.Add(-margin(t)))
		if safe > win.From() {
			if alive = emit(min(safe, sTo)); !alive {
				return false
			}
		}
		return win.From() < sTo
	})
	if alive && win.From() < sTo {
		emit(sTo)
	}
	if err != nil {
		s.A.Logger.Warn("playback", "err", err)
	}
	return nil
}

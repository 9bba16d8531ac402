package access

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/capture/audio"
	"github.com/spanvault/spanvault/record"
	"github.com/spanvault/spanvault/record/media"
	"github.com/spanvault/spanvault/vault/sealed"
)

// The level picture: how loud each side of a call was over time, drawn
// as two channels on the recording page (caller above, callee below) with
// the call's events on the same time axis.
//
// It shows talk patterns (who spoke when, silences, gaps in the media),
// never content: a channel has at most levelBins values, each the mean
// loudness of at least levelMinBin of audio quantised to levelSteps steps
// of 4 dB, too coarse by far to carry a word. It is therefore not a play:
// computing it is not admitted or counted against the insider limits and
// fetches no audio to the browser. Talk patterns are personal data of the
// call all the same, so it takes the timeline's right: ActSearch on the
// recording's branch and a role that may hear calls (mayHear: the roles
// with ActPlay, and the DPO), the same who see the call's events. The
// page's view, audited and in the access history, covers it.
//
// Computing it reads the sealed file once (no audio is kept: each
// packet is decoded into a small buffer and added to its bin), only the
// streams the renderer would play (media.Explained) and no further than
// media.RenderBound; at most two pictures are computed at a time, and the
// last levelCacheSize are kept by the file's SHA-256.

const (
	levelBins      = 400
	levelMinBin    = 250 * time.Millisecond
	levelSteps     = 16
	levelFloorDB   = -60.0
	levelCacheSize = 4096
	noMedia        = 255 // a bin without a packet on that side
)

// Levels is a call's level picture.
type Levels struct {
	Span        time.Duration // from the first sample (audioStart) to the end drawn
	Bin         time.Duration
	Left, Right []uint8 // per bin: 0..levelSteps-1, or noMedia
}

// levelCache keeps computed pictures (under a kilobyte each).
type levelCache struct {
	mu   sync.Mutex
	m    map[string]*Levels
	busy chan struct{} // at most cap(busy) computed at a time
}

var levelsOf = &levelCache{m: map[string]*Levels{}, busy: make(chan struct{}, 2)}

func (c *levelCache) get(key string) *Levels {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[key]
}

func (c *levelCache) put(key string, l *Levels) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= levelCacheSize {
		for k := range c.m { // any one out: the cache is a bound, not an LRU
			delete(c.m, k)
			break
		}
	}
	c.m[key] = l
}

// pictureSpan is the time axis of a recording's picture: from the first
// sample of its audio to the latest of the call's end and its last media
// packet, within the renderer's bound; at least one second.
func pictureSpan(e *record.Entry, start time.Time) time.Duration {
	end := e.End
	for _, st := range e.Streams {
		if st.Last.After(end) {
			end = st.Last
		}
	}
	if from := e.Answer; !from.IsZero() && e.Duration > 0 {
		if t := from.Add(time.Duration(e.Duration * float64(time.Second))); t.After(end) {
			end = t
		}
	}
	span := end.Sub(start)
	if b := media.RenderBound(e); b > 0 && !e.Start.IsZero() {
		span = min(span, e.Start.Add(b).Sub(start))
	}
	return max(span, time.Second)
}

// levels computes (or finds) the level picture of a recording.
func (s *Service) levels(ctx context.Context, rec *index.Record) (*Levels, error) {
	if s.Keys == nil {
		return nil, errNoKeys
	}
	if l := levelsOf.get(rec.SHA256); l != nil {
		return l, nil
	}
	select {
	case levelsOf.busy <- struct{}{}:
		defer func() { <-levelsOf.busy }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if l := levelsOf.get(rec.SHA256); l != nil {
		return l, nil
	}
	var e record.Entry
	if err := storedEntry(rec, &e); err != nil {
		return nil, err
	}
	start := audioStart(rec)
	span := pictureSpan(&e, start)
	n := min(levelBins, int((span+levelMinBin-1)/levelMinBin))
	bin := (span + time.Duration(n) - 1) / time.Duration(n)
	sum := [2][]float64{make([]float64, n), make([]float64, n)}
	cnt := [2][]int{make([]int, n), make([]int, n)}
	keep := media.Explained(&e)
	ar := media.NewAudioReader(e.Formats)
	g722 := map[audio.StreamKey]*audio.G722Decoder{}
	buf := make([]int16, 0, 640)
	if _, err := s.readFrames(ctx, rec, func(f *sealed.Frame) {
		p, ok := ar.Packet(f)
		if !ok || (keep != nil && !keep[audio.SSRCDir{SSRC: p.SSRC, Left: p.Left}]) {
			return
		}
		i := int(p.Time.Sub(start) / bin)
		if i < 0 || i >= n {
			return
		}
		switch audio.Kind(p.Codec, p.PT) {
		case "PCMA":
			buf = audio.DecodeALaw(buf[:0], p.Payload)
		case "PCMU":
			buf = audio.DecodeULaw(buf[:0], p.Payload)
		case "G722":
			k := audio.StreamKey{SSRC: p.SSRC, Left: p.Left, Flow: p.Flow}
			d := g722[k]
			if d == nil {
				d = audio.NewG722Decoder()
				g722[k] = d
			}
			buf = d.Decode(buf[:0], p.Payload)
		default:
			return
		}
		ch := 1
		if p.Left {
			ch = 0
		}
		for _, v := range buf {
			sum[ch][i] += float64(v) * float64(v)
		}
		cnt[ch][i] += len(buf)
	}); err != nil {
		return nil, err
	}
	l := &Levels{Span: span, Bin: bin, Left: make([]uint8, n), Right: make([]uint8, n)}
	for ch, out := range [2][]uint8{l.Left, l.Right} {
		for i := range out {
			out[i] = quantiseLevel(sum[ch][i], cnt[ch][i])
		}
	}
	levelsOf.put(rec.SHA256, l)
	return l, nil
}

// quantiseLevel turns a bin's sum of squares over n samples into one of
// levelSteps steps between levelFloorDB and full scale.
func quantiseLevel(sum float64, n int) uint8 {
	if n == 0 {
		return noMedia
	}
	rms := math.Sqrt(sum/float64(n)) / 32768
	db := levelFloorDB
	if rms > 0 {
		db = max(20*math.Log10(rms), levelFloorDB)
	}
	step := int((db - levelFloorDB) / -levelFloorDB * levelSteps)
	return uint8(min(max(step, 0), levelSteps-1))
}

// svg draws the picture: 1000 wide, 120 high; the caller's levels rise
// from the middle, the callee's fall from it; a stretch where neither
// side had media is a grey band (a gap).
func (l *Levels) svg() []byte {
	var b strings.Builder
	n := len(l.Left)
	w := 1000.0 / float64(max(n, 1))
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1000 120" preserveAspectRatio="none" width="1000" height="120">`)
	b.WriteString(`<rect width="1000" height="120" fill="#f7f7f4"/><line x1="0" y1="60" x2="1000" y2="60" stroke="#999" stroke-width="0.5"/>`)
	for i := 0; i < n; i++ {
		x := float64(i) * w
		if l.Left[i] == noMedia && l.Right[i] == noMedia {
			fmt.Fprintf(&b, `<rect class="gap" x="%.2f" y="0" width="%.2f" height="120" fill="#d8d8d8"/>`, x, w)
			continue
		}
		if v := l.Left[i]; v != noMedia && v > 0 {
			h := float64(v) / (levelSteps - 1) * 56
			fmt.Fprintf(&b, `<rect class="l" x="%.2f" y="%.2f" width="%.2f" height="%.2f" fill="#2a6f97"/>`, x, 60-h, w, h)
		}
		if v := l.Right[i]; v != noMedia && v > 0 {
			h := float64(v) / (levelSteps - 1) * 56
			fmt.Fprintf(&b, `<rect class="r" x="%.2f" y="60" width="%.2f" height="%.2f" fill="#b5651d"/>`, x, w, h)
		}
	}
	b.WriteString(`</svg>`)
	return []byte(b.String())
}

// webLevels is GET /r/{app}/{id}/levels.svg: the picture, for who may see
// the call's events (see above); no audio, not counted as a play.
func (s *Service) webLevels(w http.ResponseWriter, r *http.Request, ss *session) {
	app, id := r.PathValue("app"), r.PathValue("id")
	if !s.check(w, r, ss, ActSearch, s.recordingObject(r.Context(), app, id)) {
		return
	}
	if !mayHear(ss.user) {
		s.refuse(w, r, ss, forbidden(fmt.Sprintf("role %s may not see a call's talk pattern", ss.user.Role)))
		return
	}
	rec, err := s.recording(r.Context(), app, id)
	if err != nil {
		s.fail(w, r, ss, err)
		return
	}
	l, err := s.levels(r.Context(), rec)
	if err != nil {
		s.fail(w, r, ss, unplayable(err))
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "no-store") // gone from the browser once the call is erased
	w.Write(l.svg())
}

// drop forgets a recording's picture (it is being erased).
func (c *levelCache) drop(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, key)
}

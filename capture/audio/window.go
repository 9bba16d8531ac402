package audio

import "time"

// StreamKey names a stream as Render separates them: SSRC, direction
// (Left: caller to callee) and the call's media flow.
type StreamKey struct {
	SSRC uint32
	Left bool
	Flow uint16
}

// Anchor is where a stream starts: the capture time and RTP timestamp of
// its first packet. Render places every later packet from these.
type Anchor struct {
	First   time.Time
	FirstTS uint32
}

// Plan is a call's timeline without its samples: what Render lays out,
// known from a few packets (each stream's first, and the last ones), so
// that any part of the call can be rendered alone with Window.
type Plan struct {
	Rate    int       // samples per second per channel
	Start   time.Time // capture time of sample 0
	Samples int64     // per channel
	Anchors map[StreamKey]Anchor
	// Keep, when set, is the streams rendered (see Explained).
	Keep map[SSRCDir]bool
}

// Kind is the renderer's name for a codec ("PCMA", "PCMU", "G722"),
// "skip" for what carries no audio (comfort noise, DTMF events), "" for
// what it cannot decode.
func Kind(codec string, pt uint8) string { return codecKind(codec, pt) }

// Pos is the sample a packet starts at, and its length in samples; ok is
// false for packets that carry no decodable audio or lie before sample 0.
// A stream not in the plan is anchored at the packet (its first); a
// packet whose timestamp lies more than JumpLimit from its capture time
// anchors its stream again, as Render does.
func (p *Plan) Pos(pk *Packet) (pos int64, n int, ok bool) {
	k := codecKind(pk.Codec, pk.PT)
	if k == "" || k == "skip" || (p.Keep != nil && !p.Keep[SSRCDir{pk.SSRC, pk.Left}]) {
		return 0, 0, false
	}
	sk := StreamKey{pk.SSRC, pk.Left, pk.Flow}
	a, have := p.Anchors[sk]
	if !have {
		a = Anchor{First: pk.Time, FirstTS: pk.TS}
		p.Anchors[sk] = a
	}
	scale := int64(p.Rate / 8000)
	anchor := int64(a.First.Sub(p.Start)) * int64(p.Rate) / int64(time.Second)
	pos = anchor + int64(int32(pk.TS-a.FirstTS))*scale
	if wall, jump := p.SampleAt(pk.Time), samplesIn(JumpLimit, p.Rate); pos-wall > jump || wall-pos > jump {
		// A timestamp jump: as Render, a new segment placed by capture time.
		p.Anchors[sk] = Anchor{First: pk.Time, FirstTS: pk.TS}
		pos = wall
	}
	switch k {
	case "G722":
		n = 2 * len(pk.Payload)
	default:
		n = len(pk.Payload) * int(scale)
	}
	return pos, n, pos >= 0
}

// SampleAt is the sample a capture time falls on (clock drift aside).
func (p *Plan) SampleAt(t time.Time) int64 {
	return int64(t.Sub(p.Start)) * int64(p.Rate) / int64(time.Second)
}

// TimeAt is the capture time of a sample (clock drift aside).
func (p *Plan) TimeAt(s int64) time.Time {
	return p.Start.Add(time.Duration(s * int64(time.Second) / int64(p.Rate)))
}

// Window renders samples from a position on, from packets handed to Add
// in capture order, exactly as Render places them (G.711 sample for
// sample; G.722, whose decoder adapts, converges within a few
// milliseconds of where the window's packets begin).
type Window struct {
	plan        *Plan
	from        int64 // sample held at left[0]
	left, right []int16
	g722        map[StreamKey]*G722Decoder
	buf         []int16
	out         []int16
}

// Window starts a window at sample from.
func (p *Plan) Window(from int64) *Window {
	return &Window{plan: p, from: from, g722: map[StreamKey]*G722Decoder{}}
}

// Add lays one packet into the window (nothing before its start).
func (w *Window) Add(pk *Packet) {
	pos, _, ok := w.plan.Pos(pk)
	if !ok {
		return
	}
	k := codecKind(pk.Codec, pk.PT)
	sk := StreamKey{pk.SSRC, pk.Left, pk.Flow}
	b := w.buf[:0]
	switch k {
	case "PCMA":
		b = DecodeALaw(b, pk.Payload)
	case "PCMU":
		b = DecodeULaw(b, pk.Payload)
	case "G722":
		d := w.g722[sk]
		if d == nil {
			d = NewG722Decoder()
			w.g722[sk] = d
		}
		b = d.Decode(b, pk.Payload)
	}
	if w.plan.Rate == 16000 && k != "G722" {
		up := w.out[:0]
		for _, s := range b {
			up = append(up, s, s)
		}
		w.out = up
		b = append(b[:0], up...)
	}
	w.buf = b
	if n := w.plan.Samples; n > 0 {
		// Nothing past the call's end (the plan's bound) is laid out.
		if pos >= n {
			return
		}
		if int64(len(b)) > n-pos {
			b = b[:n-pos]
		}
	}
	if pos+int64(len(b)) <= w.from {
		return
	}
	if pos < w.from {
		b = b[w.from-pos:]
		pos = w.from
	}
	ch := &w.right
	if pk.Left {
		ch = &w.left
	}
	off := int(pos - w.from)
	if end := off + len(b); end > len(*ch) {
		*ch = append(*ch, make([]int16, end-len(*ch))...)
	}
	copy((*ch)[off:], b)
}

// From is the first sample the window holds.
func (w *Window) From() int64 { return w.from }

// Take returns the samples from From up to upto (silence where nothing
// was added) and moves the window past them. The slices are valid until
// the next call.
func (w *Window) Take(upto int64) (left, right []int16) {
	n := int(upto - w.from)
	if n <= 0 {
		return nil, nil
	}
	for _, ch := range []*[]int16{&w.left, &w.right} {
		if len(*ch) < n {
			*ch = append(*ch, make([]int16, n-len(*ch))...)
		}
	}
	left, right = append([]int16(nil), w.left[:n]...), append([]int16(nil), w.right[:n]...)
	w.left = append(w.left[:0], w.left[n:]...)
	w.right = append(w.right[:0], w.right[n:]...)
	w.from = upto
	return left, right
}

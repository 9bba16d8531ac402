package audio

import (
	"encoding/binary"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Packet is one RTP packet of a call, as the renderer needs it.
type Packet struct {
	Time    time.Time // capture time
	Left    bool      // caller to callee (left channel); else callee to caller
	Flow    uint16    // the call's media flow (5-tuple) the packet came on
	SSRC    uint32
	PT      uint8
	Seq     uint16
	TS      uint32
	Payload []byte
	// Codec is the encoding name the SDP gave the payload type ("PCMA",
	// "PCMU", "G722", "telephone-event", "CN", ...).
	Codec string
}

// Codec kinds the renderer knows.
func codecKind(name string, pt uint8) string {
	switch strings.ToUpper(name) {
	case "PCMA":
		return "PCMA"
	case "PCMU":
		return "PCMU"
	case "G722":
		return "G722"
	case "CN", "TELEPHONE-EVENT":
		return "skip"
	}
	if name == "" {
		switch pt {
		case 0:
			return "PCMU"
		case 8:
			return "PCMA"
		case 9:
			return "G722"
		case 13:
			return "skip"
		}
	}
	return ""
}

// Result is a rendered call.
type Result struct {
	Rate        int            // samples per second per channel
	Left, Right []int16        // caller, callee
	Decoded     int            // packets decoded
	Undecodable map[string]int // codec name -> packets that have no decoder here
	Start       time.Time      // capture time of sample 0
	// Left out: packets of streams RenderOnly was told to leave out.
	LeftOut int
	// Jumps counts packets whose RTP timestamp lay more than JumpLimit
	// away from where their capture time puts them: each started a new
	// segment of its stream, placed by capture time (an anomaly).
	Jumps int
	// Beyond counts packets that lay past the rendering's bound, left out.
	Beyond int
}

// Margin is how much longer than its call (or the span of its packets'
// capture times) a rendering may be: clock drift and jitter.
const Margin = 10 * time.Second

// JumpLimit is how far a packet's RTP timestamp may put it from its
// capture time, relative to its stream's anchor, before the stream is
// anchored again at the packet: a timestamp jump (a sender's restart, a
// spoofed or corrupt packet) never stretches the call.
const JumpLimit = 10 * time.Second

// Options are Render's options.
type Options struct {
	// Keep, when set, is the streams rendered (see Explained).
	Keep map[SSRCDir]bool
	// MaxDuration bounds the rendering: the call's length from its index
	// entry plus Margin. The rendering is also never longer than the span
	// of the packets' capture times plus Margin; samples past the bound
	// are not rendered (Result.Beyond counts their packets).
	MaxDuration time.Duration
}

type streamKey struct {
	ssrc uint32
	left bool
	flow uint16
}

type streamState struct {
	first   time.Time
	firstTS uint32
	g722    *G722Decoder
}

// Render lays the packets on one timeline. Each stream (SSRC, direction
// and flow: a sender that replays the same SSRC to a new port after a
// re-INVITE starts a new stream) is anchored at the capture time of its first packet and then
// placed by RTP timestamp, so lost packets leave silence of exactly their
// length and clock drift between capture and RTP does not shift samples.
// A timestamp more than JumpLimit away from where the packet's capture
// time puts it starts a new segment of the stream, anchored at that
// packet; the rendering is never longer than the span of the packets'
// capture times plus Margin (see RenderWith).
func Render(pkts []Packet) (*Result, error) { return RenderOnly(pkts, nil) }

// RenderOnly is Render of the streams in keep (all when keep is nil):
// see Explained.
func RenderOnly(pkts []Packet, keep map[SSRCDir]bool) (*Result, error) {
	return RenderWith(pkts, Options{Keep: keep})
}

// RenderWith is Render with options. Its output, and what it allocates
// for it, is bounded by opt.MaxDuration and by the span of the packets'
// capture times (each plus Margin), whatever their RTP timestamps say.
func RenderWith(pkts []Packet, opt Options) (*Result, error) {
	keep := opt.Keep
	res := &Result{Undecodable: map[string]int{}, Rate: 8000}
	if keep != nil {
		kept := pkts[:0:0]
		for _, p := range pkts {
			if keep[SSRCDir{p.SSRC, p.Left}] {
				kept = append(kept, p)
			} else {
				res.LeftOut++
			}
		}
		pkts = kept
	}
	var start, last time.Time
	for _, p := range pkts {
		k := codecKind(p.Codec, p.PT)
		if k == "G722" {
			res.Rate = 16000
		}
		if k != "" && k != "skip" && (start.IsZero() || p.Time.Before(start)) {
			start = p.Time
		}
		if k != "" && k != "skip" && p.Time.After(last) {
			last = p.Time
		}
	}
	if start.IsZero() {
		for _, p := range pkts {
			if codecKind(p.Codec, p.PT) == "" {
				res.Undecodable[codecName(p)]++
			}
		}
		return res, fmt.Errorf("audio: no packet with a codec decodable here (%s); export a pcap instead", undecodableList(res.Undecodable))
	}
	res.Start = start
	bound := last.Sub(start) + Margin
	if opt.MaxDuration > 0 {
		bound = min(bound, opt.MaxDuration)
	}
	limit := samplesIn(bound, res.Rate)
	jump := samplesIn(JumpLimit, res.Rate)
	sorted := append([]Packet(nil), pkts...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Time.Before(sorted[j].Time) })
	states := map[streamKey]*streamState{}
	var buf []int16
	for _, p := range sorted {
		k := codecKind(p.Codec, p.PT)
		if k == "" {
			res.Undecodable[codecName(p)]++
			continue
		}
		if k == "skip" {
			continue
		}
		sk := streamKey{p.SSRC, p.Left, p.Flow}
		st := states[sk]
		if st == nil {
			st = &streamState{first: p.Time, firstTS: p.TS}
			if k == "G722" {
				st.g722 = NewG722Decoder()
			}
			states[sk] = st
		}
		// Signed distance from the stream's first timestamp: correct across
		// wraparound and reordering for calls shorter than 2^31 samples
		// (three days at 8 kHz).
		ext := int64(int32(p.TS - st.firstTS))
		// G.722's RTP clock is 8 kHz by RFC 3551's historical error, its
		// samples 16 kHz; G.711 runs at 8 kHz.
		scale := int64(res.Rate / 8000)
		anchor := int64(st.first.Sub(start)) * int64(res.Rate) / int64(time.Second)
		pos := anchor + ext*scale
		if wall := samplesIn(p.Time.Sub(start), res.Rate); pos-wall > jump || wall-pos > jump {
			// A timestamp jump: a new segment, placed by capture time.
			st.first, st.firstTS, pos = p.Time, p.TS, wall
			res.Jumps++
		}
		if pos < 0 {
			continue
		}
		if pos >= limit {
			res.Beyond++
			continue
		}
		buf = buf[:0]
		switch k {
		case "PCMA":
			buf = DecodeALaw(buf, p.Payload)
		case "PCMU":
			buf = DecodeULaw(buf, p.Payload)
		case "G722":
			if st.g722 == nil {
				st.g722 = NewG722Decoder()
			}
			buf = st.g722.Decode(buf, p.Payload)
		}
		if res.Rate == 16000 && k != "G722" {
			// Upsample G.711 in a call that also has G.722.
			up := make([]int16, 0, 2*len(buf))
			for _, s := range buf {
				up = append(up, s, s)
			}
			buf = up
		}
		ch := &res.Right
		if p.Left {
			ch = &res.Left
		}
		if rest := limit - pos; int64(len(buf)) > rest {
			buf = buf[:rest]
		}
		end := int(pos) + len(buf)
		if end > len(*ch) {
			*ch = append(*ch, make([]int16, end-len(*ch))...)
		}
		copy((*ch)[pos:], buf)
		res.Decoded++
	}
	n := max(len(res.Left), len(res.Right))
	res.Left = append(res.Left, make([]int16, n-len(res.Left))...)
	res.Right = append(res.Right, make([]int16, n-len(res.Right))...)
	return res, nil
}

// samplesIn is the number of samples d lasts at rate.
func samplesIn(d time.Duration, rate int) int64 {
	return int64(d) * int64(rate) / int64(time.Second)
}

func codecName(p Packet) string {
	if p.Codec != "" {
		return p.Codec
	}
	return fmt.Sprintf("PT%d", p.PT)
}

func undecodableList(m map[string]int) string {
	var names []string
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return "no RTP audio"
	}
	return strings.Join(names, ", ")
}

// WAVHeader is the 44-byte header of a 16-bit PCM stereo WAV file of
// samples per channel at rate.
func WAVHeader(rate int, samples int64) []byte {
	dataLen := samples * 4
	h := make([]byte, 44)
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], uint32(36+dataLen))
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], 1) // PCM
	binary.LittleEndian.PutUint16(h[22:], 2) // channels
	binary.LittleEndian.PutUint32(h[24:], uint32(rate))
	binary.LittleEndian.PutUint32(h[28:], uint32(rate*4))
	binary.LittleEndian.PutUint16(h[32:], 4)
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], uint32(dataLen))
	return h
}

// WriteWAV writes a 16-bit PCM stereo WAV file.
func (r *Result) WriteWAV(w io.Writer) error {
	n := len(r.Left)
	if _, err := w.Write(WAVHeader(r.Rate, int64(n))); err != nil {
		return err
	}
	buf := make([]byte, 0, 64<<10)
	for i := 0; i < n; i++ {
		buf = binary.LittleEndian.AppendUint16(buf, uint16(r.Left[i]))
		buf = binary.LittleEndian.AppendUint16(buf, uint16(r.Right[i]))
		if len(buf) >= 64<<10-4 {
			if _, err := w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	_, err := w.Write(buf)
	return err
}

// ReadWAV reads a 16-bit PCM stereo WAV written by WriteWAV (tests and the
// export round trip).
func ReadWAV(b []byte) (*Result, error) {
	if len(b) < 44 || string(b[0:4]) != "RIFF" || string(b[8:16]) != "WAVEfmt " || string(b[36:40]) != "data" {
		return nil, fmt.Errorf("audio: not a canonical WAV file")
	}
	if binary.LittleEndian.Uint16(b[22:]) != 2 || binary.LittleEndian.Uint16(b[34:]) != 16 {
		return nil, fmt.Errorf("audio: not 16-bit stereo")
	}
	r := &Result{Rate: int(binary.LittleEndian.Uint32(b[24:]))}
	data := b[44:]
	if l := int(binary.LittleEndian.Uint32(b[40:])); l < len(data) {
		data = data[:l]
	}
	for i := 0; i+4 <= len(data); i += 4 {
		r.Left = append(r.Left, int16(binary.LittleEndian.Uint16(data[i:])))
		r.Right = append(r.Right, int16(binary.LittleEndian.Uint16(data[i+2:])))
	}
	return r, nil
}

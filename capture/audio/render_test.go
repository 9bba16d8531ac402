package audio

import (
	"runtime"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// pcma is one 20 ms A-law payload whose samples are not silence.
func pcma(i int) []byte {
	b := make([]byte, 160)
	for j := range b {
		b[j] = byte(i*7 + j)
	}
	return b
}

// allocated is how many bytes fn allocates.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestRenderTimestampJumpBounded: one RTP timestamp jump (the finding:
// two packets rendered to 40 million samples per channel, 153 MiB, on
// every play) renders within the call's bound: the packet after the jump
// starts a new segment at its capture time, nothing is allocated beyond
// the bound.
func TestRenderTimestampJumpBounded(t *testing.T) {
	for _, tc := range []struct {
		name string
		jump uint32
	}{
		{"40M", 40_000_000},
		{"2^31-160", 1<<31 - 160},
		{"2^31", 1 << 31},
		{"backwards", 3 << 30}, // -2^30 as a signed distance
	} {
		t.Run(tc.name, func(t *testing.T) {
			pkts := []Packet{
				{Time: t0, Left: true, SSRC: 1, PT: 8, Seq: 1, TS: 1000, Payload: pcma(0), Codec: "PCMA"},
				{Time: t0.Add(20 * time.Millisecond), Left: true, SSRC: 1, PT: 8, Seq: 2, TS: 1000 + tc.jump, Payload: pcma(1), Codec: "PCMA"},
				{Time: t0.Add(40 * time.Millisecond), Left: true, SSRC: 1, PT: 8, Seq: 3, TS: 1000 + tc.jump + 160, Payload: pcma(2), Codec: "PCMA"},
				{Time: t0.Add(10 * time.Millisecond), Left: false, SSRC: 2, PT: 8, Seq: 1, TS: 5, Payload: pcma(3), Codec: "PCMA"},
			}
			for _, opt := range []Options{{}, {MaxDuration: 2*time.Second + Margin}} {
				var res *Result
				var err error
				n := allocated(func() { res, err = RenderWith(pkts, opt) })
				if err != nil {
					t.Fatal(err)
				}
				bound := Margin + 40*time.Millisecond
				if opt.MaxDuration > 0 {
					bound = min(bound, opt.MaxDuration)
				}
				maxSamples := int(samplesIn(bound, 8000))
				// Two channels of 16-bit samples, with append's growth
				// and the decoding buffers: well under 4x the bound.
				if limit := uint64(4 * 2 * 2 * maxSamples); n > limit {
					t.Fatalf("rendering allocated %d bytes (%.1f MiB), bound %d", n, float64(n)/(1<<20), limit)
				}
				if len(res.Left) > maxSamples || len(res.Right) > maxSamples {
					t.Fatalf("%d samples per channel, bound %d", len(res.Left), maxSamples)
				}
				// The audio continues after the jump as if the gap were
				// the capture-time gap: packet 2 at 20 ms, packet 3 at 40 ms.
				want := DecodeALaw(nil, slices.Concat(pcma(0), pcma(1), pcma(2)))
				if len(res.Left) != 480 || !slices.Equal(res.Left, want) || res.Jumps != 1 || res.Decoded != 4 {
					t.Fatalf("left: %d samples (want 480), jumps %d, decoded %d; equal %v", len(res.Left), res.Jumps, res.Decoded, slices.Equal(res.Left, want))
				}
			}
		})
	}
}

// TestRenderBoundCuts: packets past MaxDuration are left out and counted,
// the rendering ends at the bound.
func TestRenderBoundCuts(t *testing.T) {
	var pkts []Packet
	for i := range 100 { // 2 s
		pkts = append(pkts, Packet{Time: t0.Add(time.Duration(i) * 20 * time.Millisecond), Left: true, SSRC: 1, PT: 8, TS: uint32(160 * i), Payload: pcma(i), Codec: "PCMA"})
	}
	res, err := RenderWith(pkts, Options{MaxDuration: time.Second + 10*time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Left) != 8080 || res.Beyond != 49 {
		t.Fatalf("%d samples, %d beyond; want 8080 and 49", len(res.Left), res.Beyond)
	}
}

// TestRenderNormalUnchanged: streams without jumps (loss, reordering,
// wraparound, silence suppression, drift between capture and RTP clocks,
// a late second stream) are placed exactly by RTP timestamp from their
// first packet, as before the bound: nothing counted as a jump or beyond.
func TestRenderNormalUnchanged(t *testing.T) {
	type spec struct {
		left    bool
		ssrc    uint32
		firstTS uint32
		start   time.Duration // capture time of the first packet
		// ts and at: each packet's timestamp offset and capture offset.
		ts []uint32
		at []time.Duration
	}
	seq := func(n int, tsStep uint32, atStep time.Duration, skip ...int) ([]uint32, []time.Duration) {
		var ts []uint32
		var at []time.Duration
		for i := range n {
			if slices.Contains(skip, i) {
				continue
			}
			ts = append(ts, uint32(i)*tsStep)
			at = append(at, time.Duration(i)*atStep)
		}
		return ts, at
	}
	cases := map[string][]spec{}
	{
		ts, at := seq(200, 160, 20*time.Millisecond)
		cases["plain"] = []spec{{left: true, ssrc: 1, firstTS: 77, ts: ts, at: at}}
	}
	{
		ts, at := seq(200, 160, 20*time.Millisecond, 5, 6, 7, 50)
		cases["loss"] = []spec{{left: true, ssrc: 1, firstTS: 77, ts: ts, at: at}}
	}
	{
		ts, at := seq(200, 160, 20*time.Millisecond)
		ts[10], ts[11] = ts[11], ts[10] // reordered: 11 arrives first
		cases["reordered"] = []spec{{left: true, ssrc: 1, firstTS: 0, ts: ts, at: at}}
	}
	{
		ts, at := seq(200, 160, 20*time.Millisecond)
		cases["wraparound"] = []spec{{left: false, ssrc: 9, firstTS: 1<<32 - 160*50, ts: ts, at: at}}
	}
	{
		// 8 s of silence suppressed: the timestamp and the clock both move on.
		ts, at := seq(50, 160, 20*time.Millisecond)
		ts = append(ts, 160*50+8*8000, 160*51+8*8000)
		at = append(at, time.Second+8*time.Second, time.Second+8*time.Second+20*time.Millisecond)
		cases["silence"] = []spec{{left: true, ssrc: 3, firstTS: 1000, ts: ts, at: at}}
	}
	{
		// The capture clock runs 0.5% fast against the RTP clock for 60 s.
		ts, at := seq(3000, 160, 20100*time.Microsecond)
		cases["drift"] = []spec{{left: true, ssrc: 3, firstTS: 1000, ts: ts, at: at}}
	}
	{
		a, aa := seq(300, 160, 20*time.Millisecond)
		b, ba := seq(100, 160, 20*time.Millisecond)
		cases["two streams"] = []spec{{left: true, ssrc: 1, firstTS: 5, ts: a, at: aa}, {left: false, ssrc: 2, firstTS: 99999, start: 3 * time.Second, ts: b, at: ba}}
	}
	for name, specs := range cases {
		t.Run(name, func(t *testing.T) {
			var pkts []Packet
			var left, right []int16
			var end time.Duration
			for _, s := range specs {
				for i := range s.ts {
					p := pcma(i)
					pkts = append(pkts, Packet{Time: t0.Add(s.start + s.at[i]), Left: s.left, SSRC: s.ssrc, PT: 8, TS: s.firstTS + s.ts[i], Payload: p, Codec: "PCMA"})
					// Where it belongs: its stream's anchor plus its timestamp.
					pos := int(samplesIn(s.start, 8000)) + int(int32(s.ts[i]-s.ts[0]))
					ch := &right
					if s.left {
						ch = &left
					}
					if need := pos + len(p); need > len(*ch) {
						*ch = append(*ch, make([]int16, need-len(*ch))...)
					}
					copy((*ch)[pos:], DecodeALaw(nil, p))
					end = max(end, s.start+s.at[i])
				}
			}
			n := max(len(left), len(right))
			left = append(left, make([]int16, n-len(left))...)
			right = append(right, make([]int16, n-len(right))...)
			for _, opt := range []Options{{}, {MaxDuration: end + Margin}} {
				res, err := RenderWith(pkts, opt)
				if err != nil {
					t.Fatal(err)
				}
				if res.Jumps != 0 || res.Beyond != 0 || !slices.Equal(res.Left, left) || !slices.Equal(res.Right, right) {
					t.Fatalf("jumps %d beyond %d; %d/%d samples, want %d", res.Jumps, res.Beyond, len(res.Left), len(res.Right), n)
				}
			}
		})
	}
}

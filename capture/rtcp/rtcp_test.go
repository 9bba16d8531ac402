package rtcp_test

import (
	"errors"
	"testing"

	"github.com/spanvault/spanvault/capture/rtcp"
)

// sr: an SR from 0x11223344 with one report block on 0x55667788,
// followed by an SDES (CNAME "ab").
var sr = []byte{
	0x81, 200, 0x00, 0x0c, // V=2 RC=1 SR, length 12 words (52 bytes)
	0x11, 0x22, 0x33, 0x44, // sender SSRC
	0xe9, 0x00, 0x00, 0x01, 0x80, 0x00, 0x00, 0x00, // NTP
	0x00, 0x01, 0x00, 0x00, // RTP time 65536
	0x00, 0x00, 0x05, 0xdc, // packet count 1500
	0x00, 0x03, 0xa9, 0x80, // octet count 240000
	0x55, 0x66, 0x77, 0x88, // report block: source
	0x0a, 0x00, 0x00, 0x2a, // fraction 10/256, cumulative lost 42
	0x00, 0x01, 0x03, 0xe8, // extended highest seq: 1 cycle, 1000
	0x00, 0x00, 0x00, 0x10, // jitter 16
	0x12, 0x34, 0x56, 0x78, // LSR
	0x00, 0x01, 0x00, 0x00, // DLSR 1 s
	0x81, 202, 0x00, 0x02, // SDES, 1 chunk, 2 words
	0x11, 0x22, 0x33, 0x44,
	0x01, 0x02, 'a', 'b',
}

// rrNeg: an RR from 0x01020304 with one block whose cumulative lost is
// -3 (duplicates), padded with 4 bytes.
var rrNeg = []byte{
	0xa1, 201, 0x00, 0x08, // V=2 P=1 RC=1 RR, 8 words (36 bytes)
	0x01, 0x02, 0x03, 0x04,
	0xaa, 0xbb, 0xcc, 0xdd,
	0x00, 0xff, 0xff, 0xfd, // fraction 0, cumulative lost -3
	0x00, 0x00, 0xff, 0xff,
	0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x04, // padding, 4 bytes
}

func TestReadTable(t *testing.T) {
	type want struct {
		typ     uint8
		ssrc    uint32
		packets uint32
		blocks  []rtcp.ReportBlock
	}
	for _, tc := range []struct {
		name string
		b    []byte
		want []want
		err  error
	}{
		{"SR with a block, then SDES", sr, []want{
			{rtcp.TypeSR, 0x11223344, 1500, []rtcp.ReportBlock{{SSRC: 0x55667788, FractionLost: 10, CumulativeLost: 42, HighestSeq: 0x103e8, Jitter: 16, LSR: 0x12345678, DLSR: 0x10000}}},
			{rtcp.TypeSDES, 0x11223344, 0, nil},
		}, nil},
		{"padded RR, negative cumulative lost", rrNeg, []want{
			{rtcp.TypeRR, 0x01020304, 0, []rtcp.ReportBlock{{SSRC: 0xaabbccdd, CumulativeLost: -3, HighestSeq: 0xffff}}},
		}, nil},
		{"empty RR (RC=0)", []byte{0x80, 201, 0, 1, 0, 0, 0, 9}, []want{{rtcp.TypeRR, 9, 0, nil}}, nil},
		{"version 1", []byte{0x41, 201, 0, 1, 0, 0, 0, 9}, nil, rtcp.ErrVersion},
		{"length past the buffer", sr[:51], nil, rtcp.ErrShort},
		{"three bytes", []byte{0x80, 201, 0}, nil, rtcp.ErrShort},
		{"count larger than the length", []byte{0x82, 201, 0, 7, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, nil, rtcp.ErrCount},
		{"SR without room for sender info", []byte{0x80, 200, 0, 1, 0, 0, 0, 9}, nil, rtcp.ErrCount},
		{"padding count past the body", []byte{0xa0, 201, 0, 1, 0, 0, 0, 9}, nil, rtcp.ErrShort},
		{"good SR, then garbage", append(append([]byte{}, sr[:52]...), 0x00, 0x01), []want{
			{rtcp.TypeSR, 0x11223344, 1500, []rtcp.ReportBlock{{SSRC: 0x55667788, FractionLost: 10, CumulativeLost: 42, HighestSeq: 0x103e8, Jitter: 16, LSR: 0x12345678, DLSR: 0x10000}}},
		}, rtcp.ErrShort},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rtcp.NewReader(tc.b)
			var p rtcp.Packet
			var got []want
			var err error
			for {
				var ok bool
				if ok, err = r.Next(&p); !ok {
					break
				}
				w := want{typ: p.Type, ssrc: p.SSRC, packets: p.Sender.PacketCount}
				for i := 0; i < p.Blocks(); i++ {
					w.blocks = append(w.blocks, p.Block(i))
				}
				got = append(got, w)
			}
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("read %+v, want %+v", got, tc.want)
			}
			for i := range got {
				g, w := got[i], tc.want[i]
				if g.typ != w.typ || g.ssrc != w.ssrc || g.packets != w.packets || len(g.blocks) != len(w.blocks) {
					t.Fatalf("packet %d: %+v, want %+v", i, g, w)
				}
				for j := range g.blocks {
					if g.blocks[j] != w.blocks[j] {
						t.Fatalf("packet %d block %d: %v, want %v", i, j, g.blocks[j], w.blocks[j])
					}
				}
			}
		})
	}
}

func TestReadAllocs(t *testing.T) {
	var p rtcp.Packet
	var sum uint32
	if a := testing.AllocsPerRun(1000, func() {
		r := rtcp.NewReader(sr)
		for {
			ok, _ := r.Next(&p)
			if !ok {
				break
			}
			for i := 0; i < p.Blocks(); i++ {
				sum += p.Block(i).HighestSeq
			}
		}
	}); a != 0 {
		t.Fatalf("%v allocations", a)
	}
	_ = sum
}

// FuzzRead: no input panics the reader, every packet it returns lies
// within the buffer, and the walk always ends.
func FuzzRead(f *testing.F) {
	f.Add(sr)
	f.Add(rrNeg)
	f.Add([]byte{0x80, 201, 0, 1, 0, 0, 0, 9})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := rtcp.NewReader(b)
		var p rtcp.Packet
		total := 0
		for i := 0; ; i++ {
			ok, err := r.Next(&p)
			if !ok {
				if err == nil && total != len(b) {
					t.Fatalf("walk ended cleanly after %d of %d bytes", total, len(b))
				}
				return
			}
			if p.Length < 4 || p.Length%4 != 0 {
				t.Fatalf("packet length %d", p.Length)
			}
			total += p.Length
			if total > len(b) || i > len(b) {
				t.Fatalf("read %d bytes of %d", total, len(b))
			}
			if (p.Type == rtcp.TypeSR || p.Type == rtcp.TypeRR) && p.Blocks() != int(p.Count) {
				t.Fatalf("%d blocks, count %d", p.Blocks(), p.Count)
			}
			for j := 0; j < p.Blocks(); j++ {
				_ = p.Block(j)
			}
		}
	})
}

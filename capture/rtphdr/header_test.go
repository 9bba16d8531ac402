package rtphdr

import (
	"bytes"
	"testing"

	"github.com/pion/rtp"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		ok   bool
		want Header
	}{
		{"PCMA", []byte{0x80, 0x08, 0x01, 0x02, 0, 0, 0x03, 0x20, 0xde, 0xad, 0xbe, 0xef, 0xd5, 0xd5}, true,
			Header{PayloadType: 8, Seq: 0x0102, Timestamp: 800, SSRC: 0xdeadbeef, Len: 12, PayloadEnd: 14}},
		{"marker, telephone-event", []byte{0x80, 0xe5, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0x04, 0x8a, 0x03, 0x20}, true,
			Header{Marker: true, PayloadType: 101, Seq: 1, SSRC: 1, Len: 12, PayloadEnd: 16}},
		{"two CSRCs", []byte{0x82, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0, 8, 0xff}, true,
			Header{Seq: 1, SSRC: 1, CSRCCount: 2, Len: 20, PayloadEnd: 21}},
		{"one-byte extension", []byte{0x90, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde, 0, 1, 0x10, 0xaa, 0, 0, 0xff}, true,
			Header{Seq: 1, SSRC: 1, Extension: true, Profile: 0xbede, ExtStart: 16, ExtEnd: 20, Len: 20, PayloadEnd: 21}},
		{"padding", []byte{0xa0, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 3}, true,
			Header{Seq: 1, SSRC: 1, Len: 12, PaddingSize: 3, PayloadEnd: 13}},
		{"padding of zero", []byte{0xa0, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0}, true,
			Header{Seq: 1, SSRC: 1, Len: 12, BadPadding: true, PayloadEnd: 14}},
		{"padding past the header", []byte{0xa0, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 9}, true,
			Header{Seq: 1, SSRC: 1, Len: 12, BadPadding: true, PayloadEnd: 14}},
		{"version 1", []byte{0x40, 0x08, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}, false, Header{}},
		{"short", []byte{0x80, 0x08, 0, 1, 0, 0, 0, 0, 0, 0, 0}, false, Header{}},
		{"CSRCs past the end", []byte{0x8f, 0x08, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0}, false, Header{}},
		{"extension past the end", []byte{0x90, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde, 0, 9, 0}, false, Header{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h Header
			if ok := h.Parse(tc.in); ok != tc.ok {
				t.Fatalf("Parse: %v, want %v", ok, tc.ok)
			}
			if tc.ok && h != tc.want {
				t.Fatalf("got %+v\nwant %+v", h, tc.want)
			}
		})
	}
}

func TestParseAllocatesNothing(t *testing.T) {
	b := []byte{0x92, 0x08, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0, 8, 0xbe, 0xde, 0, 1, 0x10, 0xaa, 0, 0, 0xd5}
	var h Header
	if n := testing.AllocsPerRun(100, func() { h.Parse(b) }); n != 0 {
		t.Fatalf("%v allocations per Parse", n)
	}
}

// FuzzDifferential: pion/rtp is the reference. For every input pion
// accepts (and calls version 2), Parse accepts and reads every field,
// CSRC, the extension's profile and block, the padding and the payload
// exactly as pion does. For inputs pion refuses, Parse may accept only
// the two lenient cases doc.go names.
func FuzzDifferential(f *testing.F) {
	for _, s := range [][]byte{
		{0x80, 0x08, 0x01, 0x02, 0, 0, 0x03, 0x20, 0xde, 0xad, 0xbe, 0xef, 0xd5, 0xd5},
		{0x82, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0, 8, 0xff},
		{0x90, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde, 0, 1, 0x10, 0xaa, 0, 0, 0xff},
		{0x90, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0x10, 0x00, 0, 1, 0x01, 0x02, 0xaa, 0xbb, 0xff},
		{0x90, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0x12, 0x34, 0, 1, 1, 2, 3, 4},
		{0xa0, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 3},
		{0xa0, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0},
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var h Header
		ok := h.Parse(b)
		var p rtp.Packet
		err := p.Unmarshal(bytes.Clone(b))
		if err == nil && p.Version == 2 {
			if !ok {
				t.Fatalf("pion reads %x as RTP, Parse refuses it", b)
			}
			if h.Marker != p.Marker || h.PayloadType != p.PayloadType || h.Seq != p.SequenceNumber ||
				h.Timestamp != p.Timestamp || h.SSRC != p.SSRC || h.CSRCCount != len(p.CSRC) ||
				h.Extension != p.Extension || h.PaddingSize != int(p.PaddingSize) ||
				!bytes.Equal(h.Payload(b), p.Payload) {
				t.Fatalf("%x: Parse %+v, pion %+v", b, h, p.Header)
			}
			for i, c := range p.CSRC {
				if h.CSRC(b, i) != c {
					t.Fatalf("%x: CSRC %d: %x, pion %x", b, i, h.CSRC(b, i), c)
				}
			}
			if h.Extension && h.Profile != p.ExtensionProfile {
				t.Fatalf("%x: profile %x, pion %x", b, h.Profile, p.ExtensionProfile)
			}
			if h.Extension && p.ExtensionProfile != rtp.ExtensionProfileOneByte && p.ExtensionProfile != rtp.ExtensionProfileTwoByte {
				if ext := p.GetExtension(0); !bytes.Equal(ext, b[h.ExtStart:h.ExtEnd]) {
					t.Fatalf("%x: extension block %x, pion %x", b, b[h.ExtStart:h.ExtEnd], ext)
				}
			}
			return
		}
		if !ok {
			return
		}
		// Parse accepted what pion refused: only the lenient cases.
		if len(b) > 0 && b[0]>>6 != 2 {
			t.Fatalf("Parse accepted version %d", b[0]>>6)
		}
		var hdr rtp.Header
		_, herr := hdr.Unmarshal(bytes.Clone(b))
		switch {
		case herr == nil && h.BadPadding:
			// pion refuses the padding count; Parse keeps the payload whole.
		case herr != nil && h.Extension && (h.Profile == rtp.ExtensionProfileOneByte || h.Profile == rtp.ExtensionProfileTwoByte):
			// an RFC 8285 element runs past its block, which fits.
		case herr == nil:
			t.Fatalf("%x: Parse accepted, pion refused the packet: %v", b, err)
		default:
			t.Fatalf("%x: Parse accepted, pion refused the header: %v", b, herr)
		}
	})
}

package calls_test

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/decode"
	"github.com/spanvault/spanvault/record"
)

var (
	rtcpA = netip.MustParseAddrPort("10.0.0.1:4001")
	rtcpB = netip.MustParseAddrPort("10.0.0.2:6001")
)

const ssrcA = 0x1000 // dialog.rtp's SSRC for direction 0

// packet hands the tracker one UDP payload.
func (d *dialog) packet(src, dst netip.AddrPort, pl []byte) {
	d.tr.Media(&decode.Packet{Time: d.now, Frame: pl, Src: src, Dst: dst, Transport: decode.UDP, Payload: pl})
}

// rtpSeq sends caller-to-callee RTP packet number seq.
func (d *dialog) rtpSeq(seq uint16) {
	pl := make([]byte, 12+160)
	pl[0], pl[1] = 0x80, 8
	binary.BigEndian.PutUint16(pl[2:], seq)
	binary.BigEndian.PutUint32(pl[4:], uint32(seq)*160)
	binary.BigEndian.PutUint32(pl[8:], ssrcA)
	d.packet(mediaA, mediaB, pl)
}

// sr is the caller's sender report: sent packets so far.
func sr(sent uint32) []byte {
	b := make([]byte, 28)
	b[0], b[1] = 0x80, 200
	binary.BigEndian.PutUint16(b[2:], 6)
	binary.BigEndian.PutUint32(b[4:], ssrcA)
	binary.BigEndian.PutUint32(b[20:], sent)
	return b
}

// rr is the callee's reception report on the caller's stream.
func rr(lost int32, highest uint32) []byte {
	b := make([]byte, 32)
	b[0], b[1] = 0x81, 201
	binary.BigEndian.PutUint16(b[2:], 7)
	binary.BigEndian.PutUint32(b[4:], 0x2000)
	binary.BigEndian.PutUint32(b[8:], ssrcA)
	l := uint32(lost) & 0xffffff
	b[13], b[14], b[15] = byte(l>>16), byte(l>>8), byte(l)
	binary.BigEndian.PutUint32(b[16:], highest)
	return b
}

// TestCompletenessAttribution: a stream of 1000 packets (numbers 100 to
// 1099) of which some never cross the wire (the sender counts them, the
// receiver reports them lost, the box never sees them), some cross it but
// the box misses them (the receiver has them), and some cross it and the
// receiver loses them after (the box has them). The record attributes
// each, by the argument in the package doc.
func TestCompletenessAttribution(t *testing.T) {
	t.Parallel()
	type scenario struct {
		name                string
		lead                int // packets sent before the first the box sees
		net, box, after     func(seq uint16) bool
		noSR, noRR, rrAhead bool
		tail                uint16 // the box misses the last packets
		want                record.StreamCompleteness
	}
	never := func(uint16) bool { return false }
	every := func(n, r uint16) func(uint16) bool { return func(s uint16) bool { return s%n == r } }
	for _, sc := range []scenario{
		{name: "network loss before the wire", net: every(20, 3), box: never, after: never,
			want: record.StreamCompleteness{ExpectedSeq: 1000, Captured: 950, SenderReports: 5, SenderPackets: 1000, ExpectedSR: 1000, ReceiverReports: 5, ReceiverLost: 50, ReceiverHighestSeq: 1099, LostNetwork: 50}},
		{name: "capture loss", net: never, box: every(50, 7), after: never,
			want: record.StreamCompleteness{ExpectedSeq: 1000, Captured: 980, SenderReports: 5, SenderPackets: 1000, ExpectedSR: 1000, ReceiverReports: 5, ReceiverHighestSeq: 1099, LostCapture: 20}},
		{name: "both", net: every(20, 3), box: every(50, 7), after: never,
			want: record.StreamCompleteness{ExpectedSeq: 1000, Captured: 930, SenderReports: 5, SenderPackets: 1000, ExpectedSR: 1000, ReceiverReports: 5, ReceiverLost: 50, ReceiverHighestSeq: 1099, LostNetwork: 50, LostCapture: 20}},
		{name: "loss after the wire alone", net: never, box: never, after: every(100, 11),
			want: record.StreamCompleteness{ExpectedSeq: 1000, Captured: 1000, SenderReports: 5, SenderPackets: 1000, ExpectedSR: 1000, ReceiverReports: 5, ReceiverLost: 10, ReceiverHighestSeq: 1099, LostAfterMirror: 10}},
		// All three on one range: counts cannot tell which of the
		// receiver's losses the box missed too; the capture's share is
		// the lower bound (package doc), never more than the truth.
		{name: "all three: the capture's share is a lower bound", net: every(20, 3), box: every(50, 7), after: every(100, 11),
			want: record.StreamCompleteness{ExpectedSeq: 1000, Captured: 930, SenderReports: 5, SenderPackets: 1000, ExpectedSR: 1000, ReceiverReports: 5, ReceiverLost: 60, ReceiverHighestSeq: 1099, LostNetwork: 60, LostCapture: 10}},
		{name: "sent before the first the box saw", lead: 5, net: every(20, 3), box: every(50, 7), after: never,
			want: record.StreamCompleteness{ExpectedSeq: 1000, Captured: 930, SenderReports: 5, SenderPackets: 1005, ExpectedSR: 1005, ReceiverReports: 5, ReceiverLost: 50, ReceiverHighestSeq: 1099, LostNetwork: 55, LostCapture: 20}},
		{name: "no RTCP: nothing to attribute by", noSR: true, noRR: true, net: every(20, 3), box: every(50, 7), after: never,
			want: record.StreamCompleteness{ExpectedSeq: 1000, Captured: 930, Unattributed: 70}},
		{name: "the receiver has packets after the last the box saw", tail: 3, net: never, box: never, after: never,
			want: record.StreamCompleteness{ExpectedSeq: 997, Captured: 997, SenderReports: 5, SenderPackets: 1000, ExpectedSR: 1000, ReceiverReports: 5, ReceiverHighestSeq: 1099, LostCapture: 3}},
		{name: "reports that overtake the stream's last packets", rrAhead: true, net: every(20, 3), box: every(50, 7), after: never,
			want: record.StreamCompleteness{ExpectedSeq: 1000, Captured: 930, SenderReports: 5, SenderPackets: 1000, ExpectedSR: 1000, ReceiverReports: 5, ReceiverLost: 50, ReceiverHighestSeq: 1099, LostNetwork: 50, LostCapture: 20}},
	} {
		t.Run(sc.name, func(t *testing.T) {
			d := newDialog(t)
			d.answer()
			d.rtp(mediaB, mediaA, 1, 8, 1)
			var sent uint32 = uint32(sc.lead)
			var got, lost int32
			var highest uint32
			var held []uint16 // packets the report overtakes
			for seq := uint16(100); seq < 1100; seq++ {
				sent++
				if !sc.net(seq) {
					if !sc.box(seq) && seq < 1100-sc.tail {
						if sc.rrAhead && seq%200 >= 195 {
							held = append(held, seq)
						} else {
							d.rtpSeq(seq)
						}
					}
					if !sc.after(seq) {
						got++
					}
				}
				highest = uint32(seq)
				lost = int32(highest-100+1) - got
				if (seq-99)%200 == 0 {
					if !sc.noSR {
						d.packet(rtcpA, rtcpB, sr(sent))
					}
					if !sc.noRR {
						d.packet(rtcpB, rtcpA, rr(lost, highest))
					}
					for _, q := range held {
						d.rtpSeq(q)
					}
					held = held[:0]
				}
				d.advance(0)
			}
			c := d.only()
			var s *calls.Stream
			for _, st := range c.Streams {
				if st.Stats.SSRC == ssrcA {
					s = st
				}
			}
			if s == nil {
				t.Fatal("no caller stream")
			}
			if got := s.Completeness(); got != sc.want {
				t.Fatalf("completeness\n%+v\nwant\n%+v", got, sc.want)
			}
		})
	}
}

// TestRTCPNoAllocs: reading a call's sender and reception reports costs
// the capture path no allocation.
func TestRTCPNoAllocs(t *testing.T) {
	d := newDialog(t)
	d.answer()
	d.rtp(mediaA, mediaB, 10, 8, 0)
	d.rtp(mediaB, mediaA, 10, 8, 1)
	pa := &decode.Packet{Time: d.now, Frame: sr(10), Src: rtcpA, Dst: rtcpB, Transport: decode.UDP}
	pa.Payload = pa.Frame
	pb := &decode.Packet{Time: d.now, Frame: rr(0, 9), Src: rtcpB, Dst: rtcpA, Transport: decode.UDP}
	pb.Payload = pb.Frame
	if a := testing.AllocsPerRun(1000, func() { d.tr.Media(pa); d.tr.Media(pb) }); a != 0 {
		t.Fatalf("%v allocations per SR and RR", a)
	}
}

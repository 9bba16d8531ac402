package calls

import (
	"net/netip"
	"testing"
	"time"

	"github.com/spanvault/spanvault/capture/decode"
	"github.com/spanvault/spanvault/capture/sip"
)

// FuzzHeld drives the tracker with media from arbitrary addresses and SDPs
// naming some of them, in any order: the holding area never exceeds its
// bound and every held packet is either given to a call or counted.
func FuzzHeld(f *testing.F) {
	f.Add([]byte{0x80, 8, 0, 1, 0, 0, 0, 160, 0, 0, 0, 1, 1, 2, 3}, uint8(3), uint16(4000), int64(20))
	f.Add([]byte{0x80, 0x88, 0xff, 0xff, 1, 1, 1, 1, 9, 9, 9, 9}, uint8(200), uint16(6000), int64(-3000))
	f.Fuzz(func(t *testing.T, payload []byte, n uint8, port uint16, step int64) {
		tr := NewTracker(Config{MaxHeldMedia: 16, HoldWindow: time.Second}, nil, nil)
		at := time.Unix(1e9, 0)
		src := netip.MustParseAddrPort("10.0.0.2:6000")
		for i := 0; i < int(n); i++ {
			dst := netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), port+uint16(i%4))
			pl := append([]byte(nil), payload...)
			tr.Media(&decode.Packet{Time: at, Frame: pl, Payload: pl, Src: src, Dst: dst, Transport: decode.UDP})
			if tr.held.n > 16 {
				t.Fatalf("%d packets held, bound 16", tr.held.n)
			}
			at = at.Add(time.Duration(step) * time.Millisecond)
			if i == int(n)/2 {
				body := "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio " + itoa(int(port)) + " RTP/AVP 8\r\n"
				msg := "INVITE sip:1@x SIP/2.0\r\nCall-ID: f\r\nFrom: <sip:2@x>;tag=a\r\nTo: <sip:1@x>\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: " + itoa(len(body)) + "\r\n\r\n" + body
				var m sip.Message
				if _, err := sip.Parse([]byte(msg), false, &m); err == nil {
					tr.SIP(&m, at, src, netip.MustParseAddrPort("10.0.0.1:5060"), "udp", nil)
				}
			}
		}
		tr.Close("end")
		if tr.held.n != 0 {
			t.Fatalf("%d packets still held after Close", tr.held.n)
		}
		if got := tr.Stats.MediaPackets + tr.Stats.Unassociated; got < uint64(n) {
			t.Fatalf("%d packets sent, %d accounted for", n, got)
		}
	})
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

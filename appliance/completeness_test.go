package appliance

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/decode"
	"github.com/spanvault/spanvault/capture/sip"
)

// completenessCall plays one answered call through a tracker: the
// caller's 300 packets, of which the box misses those numbered 7 modulo
// 50 when missBox; the callee reports after every hundredth packet that
// it lost none (they crossed the wire).
func completenessCall(t *testing.T, missBox bool) *calls.Call {
	t.Helper()
	var done *calls.Call
	tr := calls.NewTracker(calls.Config{}, nil, nil)
	tr.Done = func(c *calls.Call) { done = c }
	at := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	caller, callee := netip.MustParseAddrPort("10.0.0.1:5060"), netip.MustParseAddrPort("10.0.0.2:5060")
	mediaA, mediaB := netip.MustParseAddrPort("10.0.0.1:4000"), netip.MustParseAddrPort("10.0.0.2:6000")
	rtcpA, rtcpB := netip.MustParseAddrPort("10.0.0.1:4001"), netip.MustParseAddrPort("10.0.0.2:6001")
	msg := func(from, to netip.AddrPort, first, cseq, toTag, body string) {
		s := first + "\r\nCall-ID: c1@test\r\nFrom: <sip:+4930111@example.com>;tag=ft\r\nTo: <sip:2001@example.com>" + toTag + "\r\nCSeq: " + cseq + "\r\n"
		if body != "" {
			s += "Content-Type: application/sdp\r\n"
		}
		s += fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body)
		var m sip.Message
		if _, err := sip.Parse([]byte(s), false, &m); err != nil {
			t.Fatal(err)
		}
		tr.SIP(&m, at, from, to, "udp", nil)
	}
	sdp := func(ip string, port int) string {
		return fmt.Sprintf("v=0\r\no=- 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio %d RTP/AVP 8\r\n", ip, ip, port)
	}
	udp := func(src, dst netip.AddrPort, pl []byte) {
		tr.Media(&decode.Packet{Time: at, Frame: pl, Src: src, Dst: dst, Transport: decode.UDP, Payload: pl})
		at = at.Add(20 * time.Millisecond)
	}
	msg(caller, callee, "INVITE sip:2001@example.com SIP/2.0", "1 INVITE", "", sdp("10.0.0.1", 4000))
	msg(callee, caller, "SIP/2.0 200 OK", "1 INVITE", ";tag=tt", sdp("10.0.0.2", 6000))
	msg(caller, callee, "ACK sip:2001@example.com SIP/2.0", "1 ACK", ";tag=tt", "")
	for seq := uint16(1); seq <= 300; seq++ {
		if !missBox || seq%50 != 7 {
			pl := make([]byte, 12+160)
			pl[0], pl[1] = 0x80, 8
			binary.BigEndian.PutUint16(pl[2:], seq)
			binary.BigEndian.PutUint32(pl[8:], 0x1000)
			udp(mediaA, mediaB, pl)
		}
		if seq%100 == 0 {
			rr := make([]byte, 32)
			rr[0], rr[1] = 0x81, 201
			binary.BigEndian.PutUint16(rr[2:], 7)
			binary.BigEndian.PutUint32(rr[4:], 0x2000)
			binary.BigEndian.PutUint32(rr[8:], 0x1000)
			binary.BigEndian.PutUint32(rr[16:], uint32(seq))
			udp(rtcpB, rtcpA, rr)
		}
	}
	msg(caller, callee, "BYE sip:2001@example.com SIP/2.0", "2 BYE", ";tag=tt", "")
	tr.Close("capture ended")
	if done == nil {
		t.Fatal("the call did not end")
	}
	return done
}

// TestDayCountsIncompleteByUs: the day's count of calls recorded
// incomplete by the box takes the call whose completeness record shows
// packets that crossed the wire and were missed, and not the whole one.
func TestDayCountsIncompleteByUs(t *testing.T) {
	var d dayCount
	d.countCompleteness(completenessCall(t, false))
	if d.incompleteByUs != 0 {
		t.Fatalf("a whole call counted as incomplete by us")
	}
	lossy := completenessCall(t, true)
	if cs := lossy.Completeness(); cs.LostCapture != 6 {
		t.Fatalf("completeness %+v, want 6 packets lost by the capture", cs)
	}
	d.countCompleteness(lossy)
	if d.incompleteByUs != 1 {
		t.Fatalf("%d calls recorded incomplete by us today, want 1", d.incompleteByUs)
	}
}

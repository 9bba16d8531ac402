package calls_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/sip"
)

// Two spoofed packets, an INVITE and a 200 OK whose SDPs name a live
// call's two media endpoints, do not move its audio into the attacker's
// dialog; both calls carry an event.
func TestSpoofedSDPDoesNotStealLiveMedia(t *testing.T) {
	t.Parallel()
	d := newDialog(t)
	d.answer()
	d.rtp(mediaA, mediaB, 50, 8, 0)
	d.rtp(mediaB, mediaA, 50, 8, 1)
	// The attacker's dialog, from elsewhere, naming both media addresses.
	atkA := netip.MustParseAddrPort("198.51.100.9:5060")
	send := func(first, cseq, toTag, body string, from, to netip.AddrPort) {
		s := first + "\r\nCall-ID: evil@x\r\nFrom: <sip:+4915550000@x>;tag=e\r\nTo: <sip:2001@x>" + toTag + "\r\nCSeq: " + cseq + "\r\nContent-Type: application/sdp\r\n" + fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body)
		var m sip.Message
		if _, err := sip.Parse([]byte(s), false, &m); err != nil {
			t.Fatal(err)
		}
		d.tr.SIP(&m, d.now, from, to, "udp", nil)
	}
	send("INVITE sip:2001@x SIP/2.0", "1 INVITE", "", sdpBody("10.0.0.1", 4000, "sendrecv"), atkA, callee)
	send("SIP/2.0 200 OK", "1 INVITE", ";tag=z", sdpBody("10.0.0.2", 6000, "sendrecv"), callee, atkA)
	if d.tr.Stats.MediaClaimsRefused == 0 {
		t.Fatal("the competing claim was not noticed")
	}
	d.advance(20 * time.Millisecond)
	d.rtp(mediaA, mediaB, 100, 8, 0)
	d.rtp(mediaB, mediaA, 100, 8, 1)
	// Spoofed RTP from a new source into both live ports: it is not the
	// attacker's dialog's either (that would make the hijack's numbers
	// the owners of whatever comes next); it lands on the victim,
	// counted as unexplained, not among its streams or in its audio.
	spoof := netip.MustParseAddrPort("203.0.113.66:30000")
	d.rtpSSRC(spoof, mediaB, 10, 0xbad00001)
	d.rtpSSRC(spoof, mediaA, 10, 0xbad00002)
	d.msg(caller, callee, "BYE sip:2001@example.com SIP/2.0", "2 BYE", ";tag=tt", "")
	d.tr.Close("capture ended")
	var victim, evil *calls.Call
	for _, c := range d.done {
		switch c.CallID {
		case "c1@test":
			victim = c
		case "evil@x":
			evil = c
		}
	}
	if victim == nil || evil == nil {
		t.Fatalf("calls %v", d.done)
	}
	var n uint64
	for _, s := range victim.Streams {
		n += s.Stats.Packets
	}
	if n != 300 || len(victim.Streams) != 2 || victim.Unexplained != 20 {
		t.Fatalf("victim kept %d packets in %d streams, %d unexplained; want 300 in 2, 20 unexplained", n, len(victim.Streams), victim.Unexplained)
	}
	if len(evil.Streams) != 0 {
		t.Fatalf("the attacker's dialog got %d streams", len(evil.Streams))
	}
	if !hasEvent(victim, calls.EventMediaClaim) || !hasEvent(evil, calls.EventMediaClaim) {
		t.Fatal("no media_claim event on both calls")
	}
}

// Spoofed RTP with random SSRCs and forged DTMF into a live call's ports:
// bounded streams and events, the rest counted as anomalies.
func TestSpoofedRTPAndDTMFBounded(t *testing.T) {
	t.Parallel()
	d := newDialog(t)
	d.tr = calls.NewTracker(calls.Config{MaxStreamsPerCall: 4, MaxEventsPerCall: 20}, nil, nil)
	d.tr.Done = func(c *calls.Call) { d.done = append(d.done, c) }
	d.answer()
	d.rtp(mediaA, mediaB, 20, 8, 0)
	d.rtp(mediaB, mediaA, 20, 8, 1)
	for i := 0; i < 200; i++ {
		spoof := netip.AddrPortFrom(netip.MustParseAddr("203.0.113.66"), uint16(20000+i))
		d.rtpSSRC(spoof, mediaB, 2, uint32(0xdead0000+i))
	}
	for i := 0; i < 100; i++ { // forged telephone-events, each a new event
		d.seq[0] += 1000
		d.send(mediaA, mediaB, 1, 101, 0, 0x1000)
	}
	d.msg(caller, callee, "BYE sip:2001@example.com SIP/2.0", "2 BYE", ";tag=tt", "")
	c := d.only()
	if len(c.Streams) > 4 {
		t.Fatalf("%d streams on the call, bound 4", len(c.Streams))
	}
	if len(c.Events) > 20+5 { // plus the anomaly and call events
		t.Fatalf("%d events on the call", len(c.Events))
	}
	if c.Anomalies < 390 || !hasEvent(c, calls.EventAnomaly) {
		t.Fatalf("anomalies %d", c.Anomalies)
	}
}

// INVITEs with huge headers and SDPs with thousands of m= lines are
// bounded: held SIP bytes over all dialogs and media sections per SDP.
func TestOversizedSignallingBounded(t *testing.T) {
	t.Parallel()
	tr := calls.NewTracker(calls.Config{MaxPendingTotal: 1 << 20}, nil, nil)
	var sdp strings.Builder
	sdp.WriteString("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n")
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&sdp, "m=audio %d RTP/AVP 8\r\n", 10000+2*i)
	}
	big := strings.Repeat("X-Pad: "+strings.Repeat("a", 1000)+"\r\n", 60)
	for i := 0; i < 100; i++ {
		body := sdp.String()
		s := "INVITE sip:2001@x SIP/2.0\r\nCall-ID: big-" + fmt.Sprint(i) + "\r\nFrom: <sip:+49301@x>;tag=f\r\nTo: <sip:2001@x>\r\nCSeq: 1 INVITE\r\n" + big +
			"Content-Type: application/sdp\r\n" + fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body)
		var m sip.Message
		if _, err := sip.Parse([]byte(s), false, &m); err != nil {
			t.Fatal(err)
		}
		tr.SIP(&m, t0, caller, callee, "udp", []calls.Frame{{Time: t0, Data: []byte(s)}})
	}
	if tr.Stats.PendingOverflow == 0 {
		t.Fatal("held SIP bytes were not bounded over all dialogs")
	}
	if tr.Stats.Anomalies != 100 {
		t.Fatalf("%d oversized SDPs counted, want 100", tr.Stats.Anomalies)
	}
}

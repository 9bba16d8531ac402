package calls_test

import (
	"fmt"
	"net/netip"
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
	if n != 300 || len(victim.Streams) != 2 {
		t.Fatalf("victim kept %d packets in %d streams, want 300 in 2", n, len(victim.Streams))
	}
	if len(evil.Streams) != 0 {
		t.Fatalf("the attacker's dialog got %d streams", len(evil.Streams))
	}
	if !hasEvent(victim, calls.EventMediaClaim) || !hasEvent(evil, calls.EventMediaClaim) {
		t.Fatal("no media_claim event on both calls")
	}
}

package calls_test

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

// spoofer is the foreign address of the tests below: no SDP or signalling
// of the call names it.
var spoofer = netip.MustParseAddr("203.0.113.66")

// recDialog is a dialog whose tracker stores through a recorder that
// counts the stored RTP frames per SSRC.
func recDialog(t *testing.T, cfg calls.Config) (*dialog, map[uint32]int) {
	d := newDialog(t)
	stored := map[uint32]int{}
	rec := &memRec{onWrite: func(f *calls.Frame) {
		if f.Kind == calls.KindRTP && len(f.Data) >= 12 {
			stored[binary.BigEndian.Uint32(f.Data[8:12])]++
		}
	}}
	cfg.Extensions = []string{"2xxx"}
	d.tr = calls.NewTracker(cfg, rec, nil)
	d.tr.Done = func(c *calls.Call) { d.done = append(d.done, c) }
	return d, stored
}

// sprayPacket sends one RTP packet of a spoofed stream.
func (d *dialog) sprayPacket(src, dst netip.AddrPort, pt byte, seq uint16, ssrc uint32, payload []byte) {
	pl := make([]byte, 12+len(payload))
	pl[0], pl[1] = 0x80, pt
	binary.BigEndian.PutUint16(pl[2:], seq)
	binary.BigEndian.PutUint32(pl[4:], uint32(seq)*160)
	binary.BigEndian.PutUint32(pl[8:], ssrc)
	copy(pl[12:], payload)
	d.tr.Media(&decode.Packet{Time: d.now, Frame: pl, Src: src, Dst: dst, Transport: decode.UDP, Payload: pl})
}

// 16 SSRCs sprayed from a foreign address at the callee's advertised port
// as the call starts, before its real media: the real streams are the
// call's (its explained set, whatever came first), the foreign ones are
// counted, and at most the configured bound of them is stored.
func TestSprayAtCallStartLeavesRealStreams(t *testing.T) {
	t.Parallel()
	const bound = 10
	d, stored := recDialog(t, calls.Config{MaxUnexplainedStored: bound})
	d.answer()
	for i := 0; i < 20; i++ { // 16 streams of 20 packets, interleaved
		for j := 0; j < 16; j++ {
			src := netip.AddrPortFrom(spoofer, uint16(30001+2*j))
			d.sprayPacket(src, mediaB, 8, uint16(i), 0xbad00000+uint32(j), make([]byte, 160))
		}
		d.advance(20 * time.Millisecond)
	}
	d.rtp(mediaA, mediaB, 50, 8, 0)
	d.rtp(mediaB, mediaA, 50, 8, 1)
	d.msg(caller, callee, "BYE sip:2001@example.com SIP/2.0", "2 BYE", ";tag=tt", "")
	c := d.only()
	var ssrcs []string
	for _, s := range c.Streams {
		ssrcs = append(ssrcs, fmt.Sprintf("%v 0x%x %d", s.Dir, s.Stats.SSRC, s.Stats.Packets))
	}
	if len(c.Streams) != 2 || c.Streams[0].Stats.SSRC != 0x1000 || c.Streams[1].Stats.SSRC != 0x1001 ||
		c.Streams[0].Stats.Packets != 50 || c.Streams[1].Stats.Packets != 50 {
		t.Fatalf("the call's streams are %v, want the real two of 50 packets", ssrcs)
	}
	if stored[0x1000] != 50 || stored[0x1001] != 50 {
		t.Fatalf("real packets stored: %d and %d, want 50 and 50", stored[0x1000], stored[0x1001])
	}
	foreign := 0
	for ssrc, n := range stored {
		if ssrc>>16 == 0xbad0 {
			foreign += n
		}
	}
	if foreign > bound {
		t.Fatalf("%d foreign packets stored, bound %d", foreign, bound)
	}
	if c.Unexplained != 320 || d.tr.Stats.Unexplained != 320 || !hasEvent(c, calls.EventAnomaly) {
		t.Fatalf("unexplained packets counted: call %d, tracker %d (want 320), anomaly event %v", c.Unexplained, d.tr.Stats.Unexplained, hasEvent(c, calls.EventAnomaly))
	}
}

// Forged RFC 4733 digits from a foreign address into a live call, and
// from the right source with a payload type the SDPs did not negotiate as
// telephone-event: no digit.
func TestForgedDTMFNoDigits(t *testing.T) {
	t.Parallel()
	d, _ := recDialog(t, calls.Config{})
	d.answer()
	d.rtp(mediaA, mediaB, 20, 8, 0)
	d.rtp(mediaB, mediaA, 20, 8, 1)
	ev := []byte{5, 0x80 | 10, 0x03, 0x20}
	for i := 0; i < 1400; i++ {
		src := netip.AddrPortFrom(spoofer, uint16(30001+2*(i%16)))
		dst := []netip.AddrPort{mediaA, mediaB}[i%2]
		d.sprayPacket(src, dst, 101, uint16(i), 0xdd000000+uint32(i), ev)
		d.advance(time.Millisecond)
	}
	// From the caller's own media address and SSRC, but as PT 100, which
	// no SDP of the call names telephone-event.
	for i := 0; i < 50; i++ {
		d.seq[0] += 1000
		d.sprayPacket(mediaA, mediaB, 100, d.seq[0], 0x1000, ev)
	}
	d.msg(caller, callee, "BYE sip:2001@example.com SIP/2.0", "2 BYE", ";tag=tt", "")
	c := d.only()
	digits := 0
	for _, e := range c.Events {
		if e.Kind == "dtmf" {
			digits++
		}
	}
	if digits != 0 {
		t.Fatalf("%d forged digits stored, want 0", digits)
	}
	if c.Unexplained != 1400 {
		t.Fatalf("%d unexplained packets counted, want 1400", c.Unexplained)
	}
	// Real digits, from the caller with the negotiated type, still land.
	d2, _ := recDialog(t, calls.Config{})
	d2.answer()
	d2.rtp(mediaA, mediaB, 20, 8, 0)
	d2.sprayPacket(mediaA, mediaB, 101, 100, 0x1000, ev)
	if c := d2.only(); !hasEvent(c, "dtmf") {
		t.Fatalf("the caller's own digit is missing: %+v", c.Events)
	}
}

// An SDP bomb: many dialogs from a foreign address whose SDPs name the
// callees' media ports, before and after the real answers. The real
// calls keep every packet; no attacker dialog gets any.
func TestSDPBombOverlappingMediaPorts(t *testing.T) {
	t.Parallel()
	d, _ := recDialog(t, calls.Config{})
	flows := map[uint32]map[uint16]bool{} // SSRC -> the flows its frames were stored on
	d.tr = calls.NewTracker(calls.Config{Extensions: []string{"2xxx"}}, &memRec{onWrite: func(f *calls.Frame) {
		if f.Kind == calls.KindRTP && len(f.Data) >= 12 {
			ssrc := binary.BigEndian.Uint32(f.Data[8:12])
			if flows[ssrc] == nil {
				flows[ssrc] = map[uint16]bool{}
			}
			flows[ssrc][f.Flow] = true
		}
	}}, nil)
	d.tr.Done = func(c *calls.Call) { d.done = append(d.done, c) }
	bombSrc := netip.AddrPortFrom(netip.MustParseAddr("198.51.100.10"), 5060)
	bomb := func(i int) {
		body := "v=0\r\no=x 1 1 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n"
		for p := 0; p < 16; p++ {
			body += fmt.Sprintf("m=audio %d RTP/AVP 8\r\n", 6000+2*((i+p)%8))
		}
		s := fmt.Sprintf("INVITE sip:2500@x SIP/2.0\r\nCall-ID: bomb-%d@x\r\nFrom: <sip:+4915550000@x>;tag=b\r\nTo: <sip:2500@x>\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s", i, len(body), body)
		var m sip.Message
		if _, err := sip.Parse([]byte(s), false, &m); err != nil {
			t.Fatal(err)
		}
		d.tr.SIP(&m, d.now, bombSrc, callee, "udp", nil)
	}
	// Four real calls; the callees' media ports are 10.0.0.2:6000.. 6006,
	// the callers' 10.0.0.1:4000.. 4006 (a fifth below).
	callerMedia := func(k int) netip.AddrPort { return netip.AddrPortFrom(mediaA.Addr(), uint16(4000+2*k)) }
	calleeMedia := func(k int) netip.AddrPort { return netip.AddrPortFrom(mediaB.Addr(), uint16(6000+2*k)) }
	sipMsg := func(k int, from, to netip.AddrPort, first, cseq, toTag, body string) {
		s := first + fmt.Sprintf("\r\nCall-ID: real-%d@test\r\nFrom: <sip:+4930111@example.com>;tag=ft\r\nTo: <sip:2001@example.com>", k) + toTag + "\r\nCSeq: " + cseq + "\r\n"
		if body != "" {
			s += "Content-Type: application/sdp\r\n"
		}
		s += fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body)
		var m sip.Message
		if _, err := sip.Parse([]byte(s), false, &m); err != nil {
			t.Fatal(err)
		}
		d.tr.SIP(&m, d.now, from, to, "udp", nil)
	}
	n := 0
	for k := 0; k < 4; k++ {
		bomb(n)
		n++
		sipMsg(k, caller, callee, "INVITE sip:2001@example.com SIP/2.0", "1 INVITE", "", sdpBody("10.0.0.1", 4000+2*k, "sendrecv"))
		bomb(n)
		n++
		sipMsg(k, callee, caller, "SIP/2.0 200 OK", "1 INVITE", ";tag=tt", sdpBody("10.0.0.2", 6000+2*k, "sendrecv"))
		bomb(n) // after the answer: the newest SDP naming the callee's port
		n++
		sipMsg(k, caller, callee, "ACK sip:2001@example.com SIP/2.0", "1 ACK", ";tag=tt", "")
	}
	// Media from a shared sending port per side (like sipp's rtp_stream),
	// with bombs arriving in between.
	for i := 0; i < 30; i++ {
		for k := 0; k < 4; k++ {
			d.send(netip.AddrPortFrom(mediaA.Addr(), 3999), calleeMedia(k), 1, 8, 0, uint32(0x100+k))
			d.seq[0]--
			if i < 2 {
				// Media one way only so far: the bomb makes the tracker
				// forget the call's flow to the port it names.
				bomb(n)
				n++
			}
			d.send(netip.AddrPortFrom(mediaB.Addr(), 5999), callerMedia(k), 1, 8, 1, uint32(0x200+k))
			d.seq[1]--
		}
		d.seq[0]++
		d.seq[1]++
		if i%5 == 0 {
			bomb(n)
			n++
		}
	}
	// A fifth call whose caller's first packets come before the callee's
	// 200 OK (it travelled on another capture ring), while a bomb names
	// the callee's port: they wait for the 200 OK, not go to the bomb.
	sipMsg(4, caller, callee, "INVITE sip:2001@example.com SIP/2.0", "1 INVITE", "", sdpBody("10.0.0.1", 4008, "sendrecv"))
	bomb(n)
	d.send(netip.AddrPortFrom(mediaA.Addr(), 3999), calleeMedia(4), 3, 8, 0, 0x104)
	sipMsg(4, callee, caller, "SIP/2.0 200 OK", "1 INVITE", ";tag=tt", sdpBody("10.0.0.2", 6008, "sendrecv"))
	sipMsg(4, caller, callee, "ACK sip:2001@example.com SIP/2.0", "1 ACK", ";tag=tt", "")
	d.send(netip.AddrPortFrom(mediaA.Addr(), 3999), calleeMedia(4), 27, 8, 0, 0x104)
	d.send(netip.AddrPortFrom(mediaB.Addr(), 5999), callerMedia(4), 30, 8, 1, 0x204)
	for k := 0; k < 5; k++ {
		sipMsg(k, caller, callee, "BYE sip:2001@example.com SIP/2.0", "2 BYE", ";tag=tt", "")
	}
	d.tr.Close("capture ended")
	real := 0
	for _, c := range d.done {
		var pkts uint64
		for _, s := range c.Streams {
			pkts += s.Stats.Packets
		}
		if len(c.CallID) > 5 && c.CallID[:5] == "bomb-" {
			if pkts > 0 || c.Unexplained > 0 {
				t.Errorf("attacker dialog %s got %d legitimate packets (%d unexplained)", c.CallID, pkts, c.Unexplained)
			}
			continue
		}
		real++
		if pkts != 60 || len(c.Streams) != 2 {
			t.Errorf("call %s kept %d packets in %d streams, want 60 in 2", c.CallID, pkts, len(c.Streams))
		}
	}
	if real != 5 {
		t.Fatalf("%d real calls", real)
	}
	// Each stream on one flow: the audio renders it as one (a new flow
	// number each time a bomb made the tracker forget the flow once
	// shifted its samples).
	for ssrc, fs := range flows {
		if len(fs) != 1 {
			t.Errorf("stream 0x%x stored on %d flows", ssrc, len(fs))
		}
	}
}

// Spoofed RTP into a call whose parties went silent (no BYE seen) keeps
// it no longer than its media timeout: an attacker cannot hold dialogs
// open with packets the call's signalling does not explain.
func TestSprayKeepsNoCallAlive(t *testing.T) {
	t.Parallel()
	d, _ := recDialog(t, calls.Config{MediaTimeout: 10 * time.Second})
	d.answer()
	d.rtp(mediaA, mediaB, 20, 8, 0)
	d.rtp(mediaB, mediaA, 20, 8, 1)
	last := d.now
	src := netip.AddrPortFrom(spoofer, 30001)
	for i := 0; i < 30; i++ { // 30 s of spray, one packet a second
		d.sprayPacket(src, mediaB, 8, uint16(i), 0xbad00001, make([]byte, 160))
		d.advance(time.Second)
	}
	if len(d.done) != 1 || d.done[0].EndReason != "media timeout" {
		t.Fatalf("the call is still up after 30 s of spoofed RTP alone (%d ended)", len(d.done))
	}
	if c := d.done[0]; c.End.Sub(last) > time.Second {
		t.Fatalf("the call ended at %v, its media at %v", c.End, last)
	}
}

package capture_test

import (
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/spanvault/spanvault/capture"
	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/decode"
)

var ethHdr = &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}

func frame(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, append([]gopacket.SerializableLayer{ethHdr}, ls...)...); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func udpFrame(t testing.TB, src, dst net.IP, sp, dp int, id uint16, payload []byte) []byte {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, Id: id, SrcIP: src, DstIP: dst}
	udp := &layers.UDP{SrcPort: layers.UDPPort(sp), DstPort: layers.UDPPort(dp)}
	udp.SetNetworkLayerForChecksum(ip)
	return frame(t, ip, udp, gopacket.Payload(payload))
}

func heap() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// TestMemoryBudget: each structure a packet can grow, flooded far past
// the budget (INVITEs with 60 KB headers, SDPs with 2,000 m= lines,
// never-completed fragments, SIP over TCP that never completes a
// message, unanswered dialogs), stays within the one configured budget,
// and what was shed is counted; a legitimate answered call with media
// survives every flood.
func TestMemoryBudget(t *testing.T) {
	const budget = capture.Budget(32 << 20)
	var tcfg calls.Config
	budget.Tracker(&tcfg)
	dopt := decode.DefaultOptions
	budget.Decoder(&dopt)
	tr := calls.NewTracker(tcfg, nil, nil)
	ended := 0 // counted, not kept: the test must not hold what the tracker let go
	tr.Done = func(c *calls.Call) { ended++ }
	p := capture.NewPipeline(decode.New(dopt), tr)
	budget.Pipeline(p)
	at := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	step := func() time.Time { at = at.Add(100 * time.Microsecond); return at }
	a, b := net.IP{10, 0, 0, 1}, net.IP{10, 0, 0, 2}
	sipMsg := func(first, callID, extra, body string) []byte {
		s := first + "\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK" + callID + "\r\nFrom: <sip:+4930111@x>;tag=f\r\nTo: <sip:2001@x>" + "\r\nCall-ID: " + callID + "\r\nCSeq: 1 INVITE\r\n" + extra
		if body != "" {
			s += "Content-Type: application/sdp\r\n"
		}
		return []byte(fmt.Sprintf("%sContent-Length: %d\r\n\r\n%s", s, len(body), body))
	}
	sdp := func(ip string, port, lines int) string {
		var s strings.Builder
		fmt.Fprintf(&s, "v=0\r\no=- 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n", ip, ip)
		for i := 0; i < lines; i++ {
			fmt.Fprintf(&s, "m=audio %d RTP/AVP 8\r\n", port+2*i)
		}
		return s.String()
	}
	// The legitimate call: INVITE, 200 OK, ACK, media both ways.
	legit := func(n int) {
		for i := 0; i < n; i++ {
			rtp := make([]byte, 172)
			rtp[0], rtp[1] = 0x80, 8
			rtp[3], rtp[7], rtp[11] = byte(i), byte(i), 1
			p.Handle(udpFrame(t, a, b, 4000, 6000, 1, rtp), decode.LinkEthernet, step())
			rtp[11] = 2
			p.Handle(udpFrame(t, b, a, 6000, 4000, 1, rtp), decode.LinkEthernet, step())
		}
	}
	p.Handle(udpFrame(t, a, b, 5060, 5060, 1, sipMsg("INVITE sip:2001@x SIP/2.0", "legit@x", "", sdp("10.0.0.1", 4000, 1))), decode.LinkEthernet, step())
	ok := strings.Replace(string(sipMsg("SIP/2.0 200 OK", "legit@x", "", sdp("10.0.0.2", 6000, 1))), "To: <sip:2001@x>", "To: <sip:2001@x>;tag=t", 1)
	p.Handle(udpFrame(t, b, a, 5060, 5060, 1, []byte(ok)), decode.LinkEthernet, step())
	p.Handle(udpFrame(t, a, b, 5060, 5060, 1, []byte(strings.Replace(string(sipMsg("ACK sip:2001@x SIP/2.0", "legit@x", "", "")), "CSeq: 1 INVITE", "CSeq: 1 ACK", 1))), decode.LinkEthernet, step())
	legit(50)
	base := heap()
	check := func(what string) {
		t.Helper()
		legit(5)
		grown := heap() - base
		t.Logf("%s: heap +%.1f MiB (budget %d MiB); shed %+v; TCP held %d", what, float64(grown)/(1<<20), budget>>20, p.Shed(), p.TCPHeld())
		if grown > int64(budget) {
			t.Fatalf("%s: heap grew %.1f MiB, over the %d MiB budget", what, float64(grown)/(1<<20), budget>>20)
		}
		if c := tr.Lookup("legit@x"); c == nil {
			t.Fatalf("%s: the legitimate answered call was shed", what)
		}
	}
	// 1. INVITEs with 60 KB headers, each a new dialog: 180 MB offered.
	big := "X-Pad: " + strings.Repeat("p", 60<<10) + "\r\n"
	for i := 0; i < 3000; i++ {
		p.Handle(udpFrame(t, net.IP{192, 0, 2, byte(i >> 8)}, b, 5060, 5060, uint16(i), sipMsg("INVITE sip:2001@x SIP/2.0", fmt.Sprintf("big-%d@scan", i), big, "")), decode.LinkEthernet, step())
	}
	check("3,000 INVITEs with 60 KB headers")
	// 2. SDPs with 2,000 m= lines: 1,000 dialogs.
	huge := sdp("192.0.2.9", 10000, 2000)
	for i := 0; i < 1000; i++ {
		p.Handle(udpFrame(t, net.IP{192, 0, 2, 9}, b, 5060, 5060, uint16(i), sipMsg("INVITE sip:2001@x SIP/2.0", fmt.Sprintf("sdp-%d@scan", i), "", huge)), decode.LinkEthernet, step())
	}
	check("1,000 SDPs with 2,000 m= lines")
	// 3. Never-completed IPv4 fragments: 60,000 first fragments of 1,400 bytes.
	for i := 0; i < 60000; i++ {
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, Id: uint16(i), Flags: layers.IPv4MoreFragments, SrcIP: net.IP{198, 51, 100, byte(i >> 16)}, DstIP: b}
		p.Handle(frame(t, ip, gopacket.Payload(make([]byte, 1400))), decode.LinkEthernet, step())
	}
	check("60,000 never-completed fragments")
	// 4. SIP over TCP that never completes a message: 2,000 connections,
	// 30 KB each of an INVITE whose header never ends.
	for c := 0; c < 2000; c++ {
		src := net.IP{203, 0, 113, byte(c % 250)}
		sp := layers.TCPPort(10000 + c)
		seq := uint32(1000)
		part := []byte("INVITE sip:2001@x SIP/2.0\r\nCall-ID: tcp-" + fmt.Sprint(c) + "\r\nX-Pad: ")
		for k := 0; k < 22; k++ {
			ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src, DstIP: b}
			tcp := &layers.TCP{SrcPort: sp, DstPort: 5060, Seq: seq, ACK: true, Ack: 1, Window: 65535}
			tcp.SetNetworkLayerForChecksum(ip)
			payload := part
			if k > 0 {
				payload = []byte(strings.Repeat("q", 1400))
			}
			p.Handle(frame(t, ip, tcp, gopacket.Payload(payload)), decode.LinkEthernet, step())
			seq += uint32(len(payload))
		}
	}
	check("2,000 TCP streams that never complete a message")
	// 5. Unanswered INVITEs at a scanner's rate: 100,000 dialogs.
	for i := 0; i < 100000; i++ {
		p.Handle(udpFrame(t, net.IP{192, 0, 2, 77}, b, 5060, 5060, uint16(i), sipMsg("INVITE sip:2001@x SIP/2.0", fmt.Sprintf("scan-%d@x", i), "", "")), decode.LinkEthernet, step())
	}
	check("100,000 unanswered INVITEs")
	sh := p.Shed()
	if sh.Dialogs == 0 || sh.Fragments == 0 || sh.TCP == 0 || sh.SIPHeld == 0 {
		t.Fatalf("nothing counted as shed somewhere: %+v", sh)
	}
	p.Close("end")
	if p.TCPHeld() != 0 {
		t.Fatalf("TCP bytes still accounted after the end: %d", p.TCPHeld())
	}
}

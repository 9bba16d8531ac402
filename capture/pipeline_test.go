package capture_test

import (
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/spanvault/spanvault/capture"
	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/decode"
	"github.com/spanvault/spanvault/capture/internal/corpus"
)

// TestTruncatedCapture: a capture file cut mid-packet is processed up to
// the break, and the error says where it broke.
func TestTruncatedCapture(t *testing.T) {
	src := filepath.Join(corpusDir(t), "pcaps", "rtppcap__SIP_DTMF2.pcap")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.pcap")
	if err := os.WriteFile(cut, b[:len(b)*2/3+7], 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := capture.OpenFile(cut)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var done []*calls.Call
	tr := calls.NewTracker(calls.Config{}, nil, nil)
	tr.Done = func(c *calls.Call) { done = append(done, c) }
	p := capture.NewPipeline(decode.New(decode.DefaultOptions), tr)
	err = p.Run(f)
	p.Close("capture ended")
	if err == nil || !strings.Contains(err.Error(), "truncated after packet") {
		t.Fatalf("error = %v, want one naming the packet where the file breaks", err)
	}
	if f.Count() < 500 {
		t.Fatalf("only %d packets processed before the break", f.Count())
	}
	answered := 0
	for _, c := range done {
		if c.State.Answered() && len(c.Streams) > 0 {
			answered++
		}
	}
	if answered == 0 {
		t.Fatal("the call before the break was not found")
	}
}

func TestNotACapture(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.pcap")
	os.WriteFile(p, []byte("this is not a capture file at all, just text"), 0o600)
	if _, err := capture.OpenFile(p); err == nil || !strings.Contains(err.Error(), "not a pcap") {
		t.Fatalf("err = %v", err)
	}
}

// FuzzPipeline feeds arbitrary frames through the whole pipeline: decode,
// TCP reassembly, SIP, SDP and the tracker. Nothing may panic.
func FuzzPipeline(f *testing.F) {
	frames := corpus.Frames()
	for i := 0; i+3 < len(frames); i += 97 {
		var seed []byte
		for _, fr := range frames[i : i+3] {
			seed = binary.BigEndian.AppendUint16(seed, uint16(len(fr.Data)))
			seed = append(seed, fr.Data...)
		}
		f.Add(seed)
	}
	// The smallest budget: every structure a packet can grow is checked
	// against its share after every frame.
	const budget = capture.Budget(16 << 20)
	var tcfg calls.Config
	budget.Tracker(&tcfg)
	dopt := decode.DefaultOptions
	budget.Decoder(&dopt)
	f.Fuzz(func(t *testing.T, b []byte) {
		tr := calls.NewTracker(tcfg, nil, nil)
		p := capture.NewPipeline(decode.New(dopt), tr)
		budget.Pipeline(p)
		lim := tr.Limits()
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for len(b) >= 2 {
			n := int(binary.BigEndian.Uint16(b))
			b = b[2:]
			if n > len(b) {
				n = len(b)
			}
			p.Handle(b[:n], decode.LinkEthernet, at)
			b = b[n:]
			at = at.Add(7 * time.Millisecond)
			switch {
			case tr.Active() > lim.MaxCalls:
				t.Fatalf("%d dialogs, budget %d", tr.Active(), lim.MaxCalls)
			case tr.PendingHeld() > lim.MaxPendingTotal:
				t.Fatalf("%d SIP bytes held, budget %d", tr.PendingHeld(), lim.MaxPendingTotal)
			case p.Decoder.FragmentsHeld() > dopt.MaxFragmentBytes:
				t.Fatalf("%d fragment bytes held, budget %d", p.Decoder.FragmentsHeld(), dopt.MaxFragmentBytes)
			case p.TCPHeld() > p.MaxTCPBytes || p.TCPHeld() < 0:
				t.Fatalf("%d TCP bytes held, budget %d", p.TCPHeld(), p.MaxTCPBytes)
			}
		}
		p.Close("fuzz")
		if p.TCPHeld() != 0 {
			t.Fatalf("%d TCP bytes still accounted after the end", p.TCPHeld())
		}
	})
}

// TestSIPOverTLSCounted: TLS on port 5061 cannot be read passively; it is
// counted (for the status page), not parsed, and nothing breaks.
func TestSIPOverTLSCounted(t *testing.T) {
	tr := calls.NewTracker(calls.Config{}, nil, nil)
	p := capture.NewPipeline(decode.New(decode.DefaultOptions), tr)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cli, srv := net.IP{10, 0, 0, 1}, net.IP{10, 0, 0, 2}
	seg := func(src, dst net.IP, sp, dp layers.TCPPort, seq, ack uint32, syn, isAck bool, payload []byte) []byte {
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src, DstIP: dst}
		tcp := &layers.TCP{SrcPort: sp, DstPort: dp, Seq: seq, Ack: ack, SYN: syn, ACK: isAck, Window: 65535}
		tcp.SetNetworkLayerForChecksum(ip)
		buf := gopacket.NewSerializeBuffer()
		gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
			&layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4},
			ip, tcp, gopacket.Payload(payload))
		return append([]byte(nil), buf.Bytes()...)
	}
	hello := append([]byte{0x16, 0x03, 0x01, 0x00, 0x40, 0x01}, make([]byte, 0x40)...)
	for i, f := range [][]byte{
		seg(cli, srv, 40000, 5061, 100, 0, true, false, nil),
		seg(srv, cli, 5061, 40000, 500, 101, true, true, nil),
		seg(cli, srv, 40000, 5061, 101, 501, false, true, hello),
	} {
		if err := p.Handle(f, decode.LinkEthernet, at.Add(time.Duration(i)*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	p.Close("end")
	if p.Stats.TLSConnections != 1 || p.Stats.SIPOverTCP != 0 {
		t.Fatalf("TLS connections %d, SIP over TCP %d", p.Stats.TLSConnections, p.Stats.SIPOverTCP)
	}
}

// TestFragmentedInvite: an INVITE too large for one IP packet (a rich SDP
// offer) arrives in fragments; the call is found, and the recording keeps
// every fragment as captured.
func TestFragmentedInvite(t *testing.T) {
	var sdp strings.Builder
	sdp.WriteString("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8\r\n")
	for i := 0; sdp.Len() < 3000; i++ {
		fmt.Fprintf(&sdp, "a=x-padding-%d:%s\r\n", i, strings.Repeat("z", 60))
	}
	body := sdp.String()
	invite := fmt.Sprintf("INVITE sip:2001@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKf\r\nFrom: <sip:1001@example.com>;tag=a\r\nTo: <sip:2001@example.com>\r\nCall-ID: frag-1@test\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, Id: 99, SrcIP: net.IP{10, 0, 0, 1}, DstIP: net.IP{10, 0, 0, 2}}
	udp := &layers.UDP{SrcPort: 5060, DstPort: 5060}
	udp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ip, udp, gopacket.Payload(invite))
	dgram := buf.Bytes()[20:] // UDP header + SIP
	eth := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0}
	var frames [][]byte
	for off := 0; off < len(dgram); off += 1480 {
		end := min(off+1480, len(dgram))
		fip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, Id: 99, SrcIP: ip.SrcIP, DstIP: ip.DstIP, FragOffset: uint16(off / 8)}
		if end < len(dgram) {
			fip.Flags = layers.IPv4MoreFragments
		}
		fb := gopacket.NewSerializeBuffer()
		gopacket.SerializeLayers(fb, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, fip, gopacket.Payload(dgram[off:end]))
		frames = append(frames, append(append([]byte(nil), eth...), fb.Bytes()...))
	}
	var d discard
	var done []*calls.Call
	tr := calls.NewTracker(calls.Config{}, &d, nil)
	tr.Done = func(c *calls.Call) { done = append(done, c) }
	p := capture.NewPipeline(decode.New(decode.DefaultOptions), tr)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, f := range frames {
		p.Handle(f, decode.LinkEthernet, at.Add(time.Duration(i)*time.Millisecond))
	}
	// One RTP packet toward the offer's address starts the recording.
	rtpIP := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IP{10, 0, 0, 2}, DstIP: net.IP{10, 0, 0, 1}}
	rtpUDP := &layers.UDP{SrcPort: 6000, DstPort: 4000}
	rtpUDP.SetNetworkLayerForChecksum(rtpIP)
	rb := gopacket.NewSerializeBuffer()
	gopacket.SerializeLayers(rb, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, rtpIP, rtpUDP, gopacket.Payload(append([]byte{0x80, 8, 0, 1, 0, 0, 0, 160, 0, 0, 0, 7}, make([]byte, 160)...)))
	p.Handle(append(append([]byte(nil), eth...), rb.Bytes()...), decode.LinkEthernet, at.Add(time.Second))
	p.Close("end")
	if len(frames) < 3 || p.Decoder.Stats.Reassembled != 1 {
		t.Fatalf("%d fragments, %d reassembled", len(frames), p.Decoder.Stats.Reassembled)
	}
	if len(done) != 1 || done[0].CallID != "frag-1@test" || !done[0].Recorded {
		t.Fatalf("calls: %d", len(done))
	}
	if d.frames != len(frames)+1 {
		t.Fatalf("recording got %d frames, want the %d fragments and the RTP packet", d.frames, len(frames))
	}
}

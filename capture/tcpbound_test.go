package capture_test

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/spanvault/spanvault/capture"
	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/decode"
)

func tcpFrame(t testing.TB, src, dst net.IP, sp, dp int, seq uint32, syn bool, payload []byte) []byte {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src, DstIP: dst}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(sp), DstPort: layers.TCPPort(dp), Seq: seq, SYN: syn, ACK: !syn, Ack: 1, Window: 65535}
	tcp.SetNetworkLayerForChecksum(ip)
	return frame(t, ip, tcp, gopacket.Payload(payload))
}

// TestTCPStreamBound: 400,000 one-segment SIP-over-TCP connections (a
// partial INVITE each, from 200 addresses) keep the number of TCP
// streams within the budget's bound and the heap within its share; a
// stream that carried a whole SIP message (a phone registered over TCP)
// is still read after the flood, and the streams are all released at the
// end.
func TestTCPStreamBound(t *testing.T) {
	const budget = capture.Budget(32 << 20)
	var tcfg calls.Config
	budget.Tracker(&tcfg)
	dopt := decode.DefaultOptions
	budget.Decoder(&dopt)
	tr := calls.NewTracker(tcfg, nil, nil)
	p := capture.NewPipeline(decode.New(dopt), tr)
	budget.Pipeline(p)
	at := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	step := func() time.Time { at = at.Add(2 * time.Microsecond); return at }
	box := net.IPv4(10, 2, 0, 1)

	// The phone: a whole OPTIONS over TCP, then silence.
	phone := net.IPv4(10, 2, 0, 50)
	opts := func(cseq int) []byte {
		return []byte(fmt.Sprintf("OPTIONS sip:2001@10.2.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 10.2.0.50:5060;branch=z9hG4bK%d\r\nFrom: <sip:2050@10.2.0.1>;tag=p\r\nTo: <sip:2001@10.2.0.1>\r\nCall-ID: keepalive\r\nCSeq: %d OPTIONS\r\nContent-Length: 0\r\n\r\n", cseq, cseq))
	}
	first := opts(1)
	p.Handle(tcpFrame(t, phone, box, 40000, 5060, 1000, true, nil), decode.LinkEthernet, step())
	p.Handle(tcpFrame(t, phone, box, 40000, 5060, 1001, false, first), decode.LinkEthernet, step())
	if p.Stats.SIPOverTCP != 1 {
		t.Fatalf("the phone's first message was not read: %+v", p.Stats)
	}

	base := heap()
	const conns = 400000
	peak, peakHeap := 0, int64(0)
	for i := 0; i < conns; i++ {
		src := net.IPv4(198, 51, 100, byte(i%200))
		payload := []byte(fmt.Sprintf("INVITE sip:%d@10.2.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP x;branch=z9hG4bK%d\r\n", i, i))
		p.Handle(tcpFrame(t, src, box, 1024+i/200, 5060, uint32(i), false, payload), decode.LinkEthernet, step())
		peak = max(peak, p.TCPStreams())
		if i%100000 == 99999 {
			peakHeap = max(peakHeap, heap()-base)
		}
	}
	share := int64(budget)/20 + int64(budget)/10 // the streams' and the held bytes' shares
	t.Logf("%d one-segment connections: at most %d streams tracked (bound %d), %d evicted; heap +%.1f MiB (%d bytes a stream); shed %+v",
		conns, peak, p.MaxTCPStreams, p.Stats.TCPStreamsEvicted, float64(peakHeap)/(1<<20), peakHeap/int64(max(1, peak)), p.Shed())
	if peak > p.MaxTCPStreams {
		t.Errorf("%d TCP streams tracked, bound %d", peak, p.MaxTCPStreams)
	}
	if peakHeap > share {
		t.Errorf("heap grew %d MiB under the connection flood, the TCP shares of the budget are %d MiB", peakHeap>>20, share>>20)
	}
	// The phone's stream carried a whole message: it was kept, and its
	// next message is read.
	p.Handle(tcpFrame(t, phone, box, 40000, 5060, 1001+uint32(len(first)), false, opts(2)), decode.LinkEthernet, step())
	if p.Stats.SIPOverTCP != 2 {
		t.Errorf("the phone's stream was lost to the flood: %d SIP messages over TCP", p.Stats.SIPOverTCP)
	}
	p.Close("capture ended")
	if p.TCPStreams() != 0 || p.TCPHeld() != 0 {
		t.Errorf("after the end: %d streams, %d bytes held", p.TCPStreams(), p.TCPHeld())
	}
}

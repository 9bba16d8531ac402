//go:build linux

package capture_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/spanvault/spanvault/capture"
	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/decode"
	"github.com/spanvault/spanvault/capture/ring"
	"github.com/spanvault/spanvault/capture/ring/ringtest"
	"github.com/spanvault/spanvault/capture/rtphdr"
)

// The scenarios of TestLiveCompleteness: sipp does the signalling only;
// the test's own endpoints send the media (RTP and RTCP multiplexed on
// one port, RFC 5761), so that the RTCP they send is the truth of what
// each end sent and received.
const completeUAC = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="completeness uac">
  <send retrans="500"><![CDATA[

      INVITE sip:callee@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:+4930111@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:callee@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP4 [local_ip]
      s=-
      c=IN IP4 [local_ip]
      t=0 0
      m=audio 40000 RTP/AVP 8
      a=rtpmap:8 PCMA/8000
      a=rtcp-mux

    ]]></send>
  <recv response="100" optional="true"/>
  <recv response="200" rtd="true"/>
  <send><![CDATA[

      ACK sip:callee@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:+4930111@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:callee@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0

    ]]></send>
  <pause milliseconds="12000"/>
  <send retrans="500"><![CDATA[

      BYE sip:callee@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:+4930111@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:callee@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0

    ]]></send>
  <recv response="200" crlf="true"/>
</scenario>
`

const completeUAS = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="completeness uas">
  <recv request="INVITE" crlf="true"/>
  <send retrans="500"><![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP4 [local_ip]
      s=-
      c=IN IP4 [local_ip]
      t=0 0
      m=audio 41000 RTP/AVP 8
      a=rtpmap:8 PCMA/8000
      a=rtcp-mux

    ]]></send>
  <recv request="ACK" crlf="true"/>
  <recv request="BYE"/>
  <send><![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]></send>
</scenario>
`

const (
	liveSenderSSRC   = 0x5eed0001
	liveReceiverSSRC = 0x5eed0002
	livePackets      = 2000
	liveFirstSeq     = 64000 // the stream wraps its sequence numbers
)

// boxDrops is the set of packets "dropped between the wire and the box":
// the capture loop below discards these RTP packets of the caller's
// stream after the ring delivered them.
func boxDrops(seq uint16) bool { return seq%53 == 7 }

// senderReport is an RTCP SR (no report blocks) from the caller.
func senderReport(sent uint32) []byte {
	b := make([]byte, 28)
	b[0], b[1] = 0x80, 200
	binary.BigEndian.PutUint16(b[2:], 6)
	binary.BigEndian.PutUint32(b[4:], liveSenderSSRC)
	binary.BigEndian.PutUint32(b[20:], sent)
	binary.BigEndian.PutUint32(b[24:], sent*160)
	return b
}

// receiverReport is an RTCP RR from the callee on the caller's stream.
func receiverReport(lost int32, highest uint32) []byte {
	b := make([]byte, 32)
	b[0], b[1] = 0x81, 201
	binary.BigEndian.PutUint16(b[2:], 7)
	binary.BigEndian.PutUint32(b[4:], liveReceiverSSRC)
	binary.BigEndian.PutUint32(b[8:], liveSenderSSRC)
	l := uint32(lost) & 0xffffff
	b[13], b[14], b[15] = byte(l>>16), byte(l>>8), byte(l)
	binary.BigEndian.PutUint32(b[16:], highest)
	return b
}

// injectSenderLoss drops about one in twenty of the caller's RTP packets
// on the caller's side, after its socket sent (and counted) them and
// before they reach the wire: tc netem on the caller's interface where
// the kernel has it, else an nftables rule in the caller's output path.
func injectSenderLoss(t *testing.T, ns *ringtest.Netns, dev string) string {
	t.Helper()
	tc := func(args ...string) error {
		return exec.Command("tc", append([]string{"-n", ns.Name}, args...)...).Run()
	}
	if tc("qdisc", "add", "dev", dev, "root", "handle", "1:", "prio") == nil &&
		tc("qdisc", "add", "dev", dev, "parent", "1:3", "handle", "30:", "netem", "loss", "5%") == nil &&
		tc("filter", "add", "dev", dev, "parent", "1:0", "protocol", "ip", "u32", "match", "ip", "protocol", "17", "0xff",
			"match", "ip", "sport", "40000", "0xffff", "match", "u8", "0x08", "0xff", "at", "29", "flowid", "1:3") == nil {
		return "tc netem"
	}
	_ = tc("qdisc", "del", "dev", dev, "root")
	if _, err := exec.LookPath("nft"); err == nil {
		// At the device's egress hook, where netem would sit: the socket
		// has sent the packet, the wire never sees it. RTP with payload
		// type 8 only (the second byte after the UDP header), not the
		// RTCP multiplexed on the same port.
		rule := `add table netdev svloss; add chain netdev svloss out { type filter hook egress device ` + dev + ` priority 0; }; ` +
			`add rule netdev svloss out udp sport 40000 @th,72,8 0x08 numgen random mod 20 == 0 drop`
		if out, err := ns.Command("nft", rule).CombinedOutput(); err == nil {
			return "nftables at the device's egress"
		} else {
			t.Logf("nft: %v: %s", err, out)
		}
	}
	if os.Getenv("SPANVAULT_REQUIRE_TOOLS") != "" {
		t.Fatal("neither tc netem (kernel sch_netem, sch_prio) nor nft can drop packets on the sender's side")
	}
	t.Skip("neither tc netem (kernel sch_netem, sch_prio) nor nft can drop packets on the sender's side")
	return ""
}

// TestLiveCompleteness: a sipp call between two network namespaces; the
// caller's RTP loses about 5 % on the caller's side (tc netem, or
// nftables where the kernel has no netem) and the box discards a known
// set of what crossed the wire. The caller's sender reports count what it
// sent and the callee's reception reports what it lost, as real
// endpoints' do. The call's completeness record attributes every missing
// packet: the ones lost on the sender's side to the network, the ones
// the box discarded to the capture, each within 1 % of the stream.
func TestLiveCompleteness(t *testing.T) {
	if testing.Short() {
		t.Skip("live test skipped in -short mode")
	}
	sipp := needTool(t, "sipp")
	nsA := ringtest.NewNetns(t, "svcA")
	nsB := ringtest.NewNetns(t, "svcB")
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	run("link", "add", "svca", "netns", nsA.Name, "type", "veth", "peer", "name", "svcb", "netns", nsB.Name)
	run("-n", nsA.Name, "addr", "add", "10.77.0.1/24", "dev", "svca")
	run("-n", nsB.Name, "addr", "add", "10.77.0.2/24", "dev", "svcb")
	run("-n", nsA.Name, "link", "set", "svca", "up")
	run("-n", nsB.Name, "link", "set", "svcb", "up")
	how := injectSenderLoss(t, nsA, "svca")

	// The box: a ring on each side of the wire (each sees the packets
	// coming in: the callee's side the caller's media, the caller's side
	// the callee's reports), one pipeline behind both, and a capture loop
	// that discards boxDrops of the caller's RTP before the pipeline.
	open := func(ns *ringtest.Netns, dev string) *ring.Ring {
		var rg *ring.Ring
		var err error
		ns.Do(t, func() {
			rg, err = ring.Open(ring.Config{Interface: dev, BlockSize: 1 << 20, Blocks: 16, RetireTimeout: 10 * time.Millisecond, PollTimeout: 50 * time.Millisecond})
		})
		if err != nil {
			t.Fatal(err)
		}
		return rg
	}
	rings := []*ring.Ring{open(nsB, "svcb"), open(nsA, "svca")}
	var mu sync.Mutex
	done := make(chan *calls.Call, 4)
	tr := calls.NewTracker(calls.Config{Linger: 200 * time.Millisecond}, nil, nil)
	tr.Done = func(c *calls.Call) { done <- c }
	p := capture.NewPipeline(decode.New(decode.DefaultOptions), tr)
	answered := make(chan struct{})
	var once sync.Once
	boxDropped := map[uint16]bool{}
	loopDone := make(chan error, len(rings))
	for _, rg := range rings {
		go func() {
			dec := decode.New(decode.DefaultOptions)
			var pkt decode.Packet
			for {
				data, ts, lt, err := rg.Next()
				if errors.Is(err, ring.ErrTimeout) {
					mu.Lock()
					tr.Sweep(time.Now())
					mu.Unlock()
					continue
				}
				if err != nil {
					loopDone <- nil
					return
				}
				if ok, err := dec.Decode(data, lt, ts, &pkt); err != nil || !ok {
					continue
				}
				mu.Lock()
				var h rtphdr.Header
				if pkt.Transport == decode.UDP && pkt.Dst.Port() == 41000 && h.Parse(pkt.Payload) && h.PayloadType == 8 && boxDrops(h.Seq) {
					boxDropped[h.Seq] = true
					mu.Unlock()
					continue
				}
				p.HandlePacket(&pkt)
				tr.Calls(func(c *calls.Call) {
					if c.State.Answered() {
						once.Do(func() { close(answered) })
					}
				})
				mu.Unlock()
			}
		}()
	}
	defer func() {
		for _, rg := range rings {
			rg.Stop()
			<-loopDone
			rg.Close()
		}
	}()

	// The endpoints' media sockets, one per side, RTP and RTCP muxed.
	var a, b *net.UDPConn
	var err error
	nsA.Do(t, func() { a, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(10, 77, 0, 1), Port: 40000}) })
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	nsB.Do(t, func() { b, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(10, 77, 0, 2), Port: 41000}) })
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	// The callee: counts what arrives; answers each SR with an RR (RFC
	// 3550 A.3: expected from the extended highest and first sequence
	// numbers, lost = expected - received).
	received := map[uint16]bool{}
	var lastRR [2]int64 // the callee's last report: cumulative lost, extended highest
	calleeDone := make(chan error, 1)
	go func() {
		buf := make([]byte, 1500)
		var base, maxExt uint32
		var got int64
		started := false
		for {
			n, from, err := b.ReadFromUDP(buf)
			if err != nil {
				calleeDone <- err
				return
			}
			pl := buf[:n]
			if n >= 2 && pl[1] == 200 {
				lost := int64(maxExt-base+1) - got
				lastRR = [2]int64{lost, int64(maxExt)}
				if _, err := b.WriteToUDP(receiverReport(int32(lost), maxExt), from); err != nil {
					calleeDone <- err
					return
				}
				if binary.BigEndian.Uint32(pl[20:24]) == livePackets {
					calleeDone <- nil
					return
				}
				continue
			}
			var h rtphdr.Header
			if !h.Parse(pl) {
				continue
			}
			ext := uint32(h.Seq)
			if !started {
				started, base, maxExt = true, ext, ext
			} else {
				// Extend by the nearest cycle to the highest so far.
				cyc := maxExt &^ 0xffff
				cand := cyc | ext
				if d := int64(cand) - int64(maxExt); d < -0x8000 {
					cand += 0x10000
				} else if d > 0x8000 && cand >= 0x10000 {
					cand -= 0x10000
				}
				ext = cand
				maxExt = max(maxExt, ext)
			}
			if !received[h.Seq] {
				received[h.Seq] = true
				got++
			}
		}
	}()

	dir := t.TempDir()
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
			for _, l := range logs {
				b, _ := os.ReadFile(l)
				t.Logf("%s:\n%s", l, b)
			}
		}
	})
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	uas := nsB.Command(sipp, "-sf", write("uas.xml", completeUAS), "-i", "10.77.0.2", "-p", "5060", "-m", "1", "-nostdin", "-timeout", "60s")
	uac := nsA.Command(sipp, "10.77.0.2:5060", "-sf", write("uac.xml", completeUAC), "-i", "10.77.0.1", "-p", "5061", "-m", "1", "-nostdin", "-timeout", "60s")
	for i, c := range []*exec.Cmd{uas, uac} {
		log, _ := os.Create(filepath.Join(dir, fmt.Sprintf("sipp-%d.log", i)))
		c.Stdout, c.Stderr, c.Dir = log, log, dir
	}
	if err := uas.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { uas.Process.Kill(); uas.Wait() }()
	time.Sleep(100 * time.Millisecond) // let the UAS bind first
	if err := uac.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { uac.Process.Kill(); uac.Wait() }()
	select {
	case <-answered:
	case <-time.After(20 * time.Second):
		mu.Lock()
		ps, ts := p.Stats, tr.Stats
		mu.Unlock()
		t.Fatalf("the box saw no answered call (pipeline %+v, tracker %+v)", ps, ts)
	}

	// The caller: 2000 packets of 20 ms of PCMA, sent 5 at a time every
	// 5 ms, an SR every 200 and a last one after the last packet; it
	// reads the callee's RRs as they come.
	rrs := make(chan struct{}, 64)
	go func() {
		buf := make([]byte, 1500)
		for {
			if _, _, err := a.ReadFromUDP(buf); err != nil {
				return
			}
			rrs <- struct{}{}
		}
	}()
	callee := &net.UDPAddr{IP: net.IPv4(10, 77, 0, 2), Port: 41000}
	pkt := make([]byte, 12+160)
	pkt[0], pkt[1] = 0x80, 8
	binary.BigEndian.PutUint32(pkt[8:], liveSenderSSRC)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for i := 0; i < livePackets; i++ {
		if i%5 == 0 {
			<-tick.C
		}
		binary.BigEndian.PutUint16(pkt[2:], uint16(liveFirstSeq+i))
		binary.BigEndian.PutUint32(pkt[4:], uint32(i*160))
		if _, err := a.WriteToUDP(pkt, callee); err != nil {
			t.Fatal(err)
		}
		if (i+1)%200 == 0 && i+1 < livePackets {
			if _, err := a.WriteToUDP(senderReport(uint32(i+1)), callee); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := a.WriteToUDP(senderReport(livePackets), callee); err != nil {
		t.Fatal(err)
	}
	if err := <-calleeDone; err != nil {
		t.Fatal(err)
	}
	for i := 0; i < livePackets/200; i++ {
		select {
		case <-rrs:
		case <-time.After(10 * time.Second):
			t.Fatalf("caller got %d of %d reception reports", i, livePackets/200)
		}
	}
	if err := uac.Wait(); err != nil {
		t.Fatalf("sipp caller: %v (logs in %s)", err, dir)
	}
	var c *calls.Call
	select {
	case c = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the call did not end at the box")
	}
	mu.Lock()
	defer mu.Unlock()
	for _, rg := range rings {
		if st, err := rg.Stats(); err != nil || st.Drops != 0 {
			t.Fatalf("ring stats %+v, %v: the kernel dropped packets, the truth below would not hold", st, err)
		}
	}

	// The truth: what the caller sent and the callee did not receive
	// never crossed the wire (the only loss between them is the injected
	// one); what the box discarded of what crossed it is the capture's.
	netTruth := int64(livePackets - len(received))
	var capTruth int64
	for q := range boxDropped {
		if received[q] {
			capTruth++
		}
	}
	var s *calls.Stream
	for _, st := range c.Streams {
		if st.Stats.SSRC == liveSenderSSRC {
			s = st
		}
	}
	if s == nil {
		t.Fatalf("the call has no stream 0x%08x: %+v", liveSenderSSRC, c.Streams)
	}
	got := s.Completeness()
	t.Logf("loss injected by %s; truth: %d sent, %d lost on the sender's side, %d discarded by the box; record: %+v", how, livePackets, netTruth, capTruth, got)
	if netTruth == 0 || capTruth == 0 {
		t.Fatalf("nothing to attribute: %d lost on the sender's side, %d at the box", netTruth, capTruth)
	}
	tol := int64(livePackets / 100)
	within := func(name string, got, want int64) {
		if d := got - want; d > tol || d < -tol {
			t.Errorf("%s: %d packets, truth %d (tolerance %d, 1%% of %d)", name, got, want, tol, livePackets)
		}
	}
	within("lost to the network", got.LostNetwork, netTruth)
	within("lost by the capture", got.LostCapture, capTruth)
	within("unattributed", got.Unattributed, 0)
	within("expected from the sender reports", got.ExpectedSR, livePackets)
	// The figures reported are the endpoints': the receiver's loss is
	// up to its highest packet (a loss after that it cannot know of).
	if got.SenderPackets != livePackets || got.ReceiverLost != lastRR[0] || int64(got.ReceiverHighestSeq) != lastRR[1] {
		t.Errorf("sender count %d, receiver's cumulative lost %d, highest %d; sent %d, the callee's last report %v", got.SenderPackets, got.ReceiverLost, got.ReceiverHighestSeq, livePackets, lastRR)
	}
}

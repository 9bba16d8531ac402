//go:build linux

package appliance_test

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"
	"golang.org/x/sys/unix"

	"github.com/spanvault/spanvault/capture/audio"
	"github.com/spanvault/spanvault/capture/decode"
	"github.com/spanvault/spanvault/capture/ring/ringtest"
	"github.com/spanvault/spanvault/vault/export"
)

// The spoofing test: legitimate calls between 127.0.0.1 and 127.0.0.1
// (callees' media ports from 20000, callers' from 40000), the attacker at
// sprayer.
var sprayer = netip.MustParseAddr("127.0.0.13")

const (
	spoofCalls      = 40
	spoofHold       = 16 * time.Second
	spraySSRCs      = 16 // SSRCs sprayed at each callee's port
	sprayPackets    = 50 // packets per sprayed SSRC, 25 a second
	forgedDTMF      = 14000
	unexplainedKept = 16 // capture.max_unexplained_packets of the box
	calleeMediaBase = 20000
	callerMediaBase = 40000
)

// TestSpoofedStreamsAndDTMF: 40 live sipp calls; an attacker on the path
// sees each 200 OK and, as the call starts (before the caller's first
// RTP packet, usually), sends an SDP bomb naming the callee's media port
// and its neighbours' and sprays 16 SSRCs from a foreign address at the
// port; once every call is up, 14,000 forged RFC 4733 digits follow into
// the callees' ports on the sprayed SSRCs. Against an independent capture
// (dumpcap) of the legitimate traffic: every call's WAV, as the export
// renders it, equals what the wire carried of its own two flows, sample
// for sample; at most the configured number of foreign packets is stored
// per call; no forged digit is stored; no attacker dialog holds any of
// the calls' media.
func TestSpoofedStreamsAndDTMF(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	ns := ringtest.NewNetns(t, "svspoof")
	b := newBox(t, ns, "")
	cfg, _ := os.ReadFile(b.cfg)
	cfg = []byte(strings.Replace(string(cfg), `extensions = ["2xxx"]`, fmt.Sprintf("extensions = [\"2xxx\"]\nmax_unexplained_packets = %d", unexplainedKept), 1))
	os.WriteFile(b.cfg, cfg, 0o600)
	b.start()
	work := t.TempDir()

	ref := filepath.Join(work, "ref.pcapng")
	dumpcap := ns.Command("dumpcap", "-q", "-i", "lo", "-B", "256", "-w", ref, "-f", "udp and src host 127.0.0.1 and dst host 127.0.0.1")
	dumpcap.Stderr = os.Stderr
	if err := dumpcap.Start(); err != nil {
		t.Fatalf("dumpcap: %v", err)
	}
	t.Cleanup(func() { dumpcap.Process.Kill(); dumpcap.Wait() })
	// The attacker's view of the wire: the callees' media ports as their
	// 200 OKs name them.
	answers := make(chan uint16, 4*spoofCalls)
	offers := make(chan uint16, 4*spoofCalls)
	stopSniff := sniffSDPs(t, ns, answers, offers)
	t.Cleanup(stopSniff)
	time.Sleep(time.Second)

	raw := filepath.Join(work, "g711a.raw")
	rawALaw(t, "/usr/share/sip-tester/g711a.pcap", raw)
	uasScen := loadScenario(t, work, "uas.xml", raw, spoofHold, "")
	uacScen := loadScenario(t, work, "uac.xml", raw, spoofHold, "")
	uas := sipp(t, ns, "-sf", uasScen, "-i", "127.0.0.1", "-p", "5070", "-mi", "127.0.0.1", "-mp", strconv.Itoa(calleeMediaBase), "-m", strconv.Itoa(spoofCalls))
	time.Sleep(300 * time.Millisecond)
	uac := sipp(t, ns, "127.0.0.1:5070", "-sf", uacScen, "-s", "3001", "-i", "127.0.0.1", "-p", "6070", "-mi", "127.0.0.1", "-mp", strconv.Itoa(callerMediaBase),
		"-m", strconv.Itoa(spoofCalls), "-l", strconv.Itoa(spoofCalls), "-r", "10")

	sp, err := newSpray(t, ns)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.close()
	var sprays sync.WaitGroup
	seen := map[uint16]bool{}
	deadline := time.After(20 * time.Second)
	for len(seen) < spoofCalls {
		select {
		case port := <-answers:
			if seen[port] {
				continue // a retransmitted 200 OK
			}
			seen[port] = true
			sprays.Add(1)
			go func() {
				defer sprays.Done()
				if err := sp.spray(port); err != nil {
					t.Errorf("spray at %d: %v", port, err)
				}
			}()
		case <-deadline:
			t.Fatalf("saw %d of %d answers", len(seen), spoofCalls)
		}
	}
	callers := map[uint16]bool{}
	for len(callers) < spoofCalls {
		select {
		case port := <-offers:
			callers[port] = true
		case <-deadline:
			t.Fatalf("saw %d of %d offers", len(callers), spoofCalls)
		}
	}
	stopSniff()
	sprays.Wait()
	for port := range callers {
		sp.target(port)
	}
	if err := sp.dtmf(forgedDTMF); err != nil {
		t.Fatalf("forged DTMF: %v", err)
	}
	st := b.status()
	t.Logf("during the attack: in progress %v, anomalies %v, kernel drops %v", num(st, "calls", "in_progress"), num(st, "attack", "anomalies"), num(st, "capture", "kernel_drops"))

	uac.wait(t)
	uas.wait(t)
	b.waitFor("every call to be recorded", 60*time.Second, func() bool {
		return num(b.status(), "calls", "recorded_since_start") >= spoofCalls
	})
	st = b.status()
	if num(st, "calls", "record_errors") != 0 {
		t.Errorf("recording errors: %v", st["calls"])
	}
	b.stop()
	dumpcap.Process.Signal(syscall.SIGTERM)
	dumpcap.Wait()
	checkSpoofedCalls(t, b, ref)
}

// checkSpoofedCalls compares each legitimate call's recording with the
// reference capture: its audio the wire's, sample for sample, at most
// unexplainedKept of the sprayer's packets stored, no digit.
func checkSpoofedCalls(t *testing.T, b *box, ref string) {
	t.Helper()
	owner := sdpOwners(t, ref)
	// The wire's audio per call: its two flows, as the export would
	// render a recording holding exactly them.
	wire := map[string][]audio.Packet{}
	eachPCMA(t, ref, func(p *decode.Packet, ts time.Time) {
		id, ok := owner[p.Dst.String()]
		if !ok {
			t.Errorf("RTP flow %s>%s goes to no SDP's endpoint", p.Src, p.Dst)
			return
		}
		left := p.Dst.Port() < callerMediaBase // toward the callee
		flow := uint16(1)
		if !left {
			flow = 2
		}
		pl := p.Payload
		wire[id] = append(wire[id], audio.Packet{Time: ts, Left: left, Flow: flow, SSRC: binary.BigEndian.Uint32(pl[8:12]), PT: 8,
			Seq: binary.BigEndian.Uint16(pl[2:4]), TS: binary.BigEndian.Uint32(pl[4:8]), Payload: append([]byte(nil), pl[12:]...), Codec: "PCMA"})
	})
	if len(wire) != spoofCalls {
		t.Fatalf("the reference holds the media of %d calls, want %d", len(wire), spoofCalls)
	}
	v := openVault(t, b)
	ids := []age.Identity{b.key}
	es, err := v.List()
	if err != nil {
		t.Fatal(err)
	}
	dec := decode.New(decode.Options{})
	var p decode.Packet
	var bad, storedForeign, maxForeign, digits, stolen int
	checked := map[string]bool{}
	for _, e := range es {
		pers, err := v.Personal(e.ID, ids)
		if err != nil {
			t.Fatalf("%s: %v", e.ID, err)
		}
		for _, ev := range pers.Events { // any call's, the attacker's too
			if ev.Kind == "dtmf" {
				digits++
			}
		}
		want, ok := wire[pers.CallID]
		if !ok {
			// An attacker's dialog (the SDP bombs): none of the calls'
			// media.
			if !e.Recorded {
				continue
			}
			frames, _, err := export.Frames(v, e.ID, ids)
			if err != nil {
				t.Fatal(err)
			}
			for i := range frames {
				f := &frames[i]
				if ok, err := dec.Decode(f.Data, decode.LinkType(f.LinkType), f.Time, &p); err == nil && ok && p.Transport == decode.UDP && p.Src.Addr() == legit {
					if _, media := owner[p.Dst.String()]; media {
						stolen++
					}
				}
			}
			continue
		}
		checked[pers.CallID] = true
		frames, _, err := export.Frames(v, e.ID, ids)
		if err != nil {
			t.Fatal(err)
		}
		foreign := 0
		for i := range frames {
			f := &frames[i]
			if ok, err := dec.Decode(f.Data, decode.LinkType(f.LinkType), f.Time, &p); err == nil && ok && p.Transport == decode.UDP && p.Src.Addr() == sprayer {
				foreign++
			}
		}
		storedForeign += foreign
		maxForeign = max(maxForeign, foreign)
		if foreign > unexplainedKept {
			t.Errorf("call %s: %d of the sprayer's packets stored, the bound is %d", pers.CallID, foreign, unexplainedKept)
		}
		got, err := audio.RenderOnly(export.AudioPackets(frames, e.Formats), export.Explained(e))
		if err != nil {
			t.Fatal(err)
		}
		exp, err := audio.RenderOnly(want, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i, ch := range [][]int16{got.Left, got.Right} {
			g, w := trimSilence(ch), trimSilence([][]int16{exp.Left, exp.Right}[i])
			if len(w) == 0 {
				t.Errorf("call %s channel %d: no audio on the wire", pers.CallID, i)
			}
			if !slices.Equal(g, w) {
				bad++
				t.Errorf("call %s channel %d: %d samples, the wire's %d (%d streams on the call)", pers.CallID, i, len(g), len(w), len(e.Streams))
				logVictim(t, e, pers, frames)
			}
		}
	}
	if len(checked) != spoofCalls {
		t.Errorf("%d of %d calls recorded", len(checked), spoofCalls)
	}
	if digits != 0 {
		t.Errorf("%d forged digits stored, want 0", digits)
	}
	if stolen > 0 {
		t.Errorf("%d of the calls' media packets stored in the attacker's dialogs", stolen)
	}
	if storedForeign == 0 {
		t.Errorf("none of the sprayer's packets reached a recording: the spray missed the calls")
	}
	t.Logf("%d calls: %d channels differ from the wire; %d of the sprayer's packets stored (at most %d in a call, bound %d); %d forged digits; %d media packets in attacker dialogs",
		len(checked), bad, storedForeign, maxForeign, unexplainedKept, digits, stolen)
}

// sniffSDPs reads the namespace's loopback through a packet socket (the
// attacker on the path) and sends the media port of every 200 OK with SDP
// (the callee's) to answers, of every INVITE (the caller's) to offers.
// The returned func stops it.
func sniffSDPs(t *testing.T, ns *ringtest.Netns, answers, offers chan<- uint16) func() {
	t.Helper()
	var fd int
	var err error
	ns.Do(t, func() { fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM, int(htons(unix.ETH_P_IP))) })
	if err != nil {
		t.Fatalf("packet socket: %v", err)
	}
	// Room for the calls' media while a 200 OK waits to be read.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 16<<20); err != nil {
		t.Fatal(err)
	}
	tv := unix.Timeval{Usec: 100_000}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer unix.Close(fd)
		buf := make([]byte, 65536)
		for {
			select {
			case <-stop:
				return
			default:
			}
			n, from, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				continue
			}
			if ll, ok := from.(*unix.SockaddrLinklayer); !ok || ll.Pkttype != unix.PACKET_HOST {
				continue // loopback shows each packet twice
			}
			pkt := buf[:n]
			if len(pkt) < 28 || pkt[0]>>4 != 4 || pkt[9] != unix.IPPROTO_UDP {
				continue
			}
			ihl := int(pkt[0]&0x0f) * 4
			if len(pkt) < ihl+8 {
				continue
			}
			pl := pkt[ihl+8:]
			var ch chan<- uint16
			switch binary.BigEndian.Uint16(pkt[ihl:]) {
			case 5070:
				if bytes.HasPrefix(pl, []byte("SIP/2.0 200")) && bytes.Contains(pl, []byte("CSeq: 1 INVITE")) {
					ch = answers
				}
			case 6070:
				if bytes.HasPrefix(pl, []byte("INVITE ")) {
					ch = offers
				}
			}
			if ch == nil {
				continue
			}
			i := bytes.Index(pl, []byte("m=audio "))
			if i < 0 {
				continue
			}
			f := strings.Fields(string(pl[i+8 : min(len(pl), i+20)]))
			if len(f) == 0 {
				continue
			}
			if port, err := strconv.ParseUint(f[0], 10, 16); err == nil {
				select {
				case ch <- uint16(port):
				default:
				}
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(stop); <-done }) }
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// spray is the attacker: spraySSRCs sockets on a foreign address, each
// with its own SSRC per target port.
type spray struct {
	socks []*net.UDPConn
	sip   *net.UDPConn // the SDP bomb's
	mu    sync.Mutex
	// streams: per target port, the sprayed SSRCs and their next
	// sequence numbers (the forged digits continue them).
	streams map[uint16]*[spraySSRCs]sprayStream
}

type sprayStream struct {
	ssrc uint32
	seq  uint16
	ts   uint32
}

func newSpray(t *testing.T, ns *ringtest.Netns) (*spray, error) {
	s := &spray{streams: map[uint16]*[spraySSRCs]sprayStream{}}
	for i := 0; i < spraySSRCs; i++ {
		c, err := udpFrom(t, ns, netip.AddrPortFrom(sprayer, uint16(31001+2*i)))
		if err != nil {
			s.close()
			return nil, err
		}
		c.SetWriteBuffer(1 << 20)
		s.socks = append(s.socks, c)
	}
	c, err := udpFrom(t, ns, netip.AddrPortFrom(sprayer, 5060))
	if err != nil {
		s.close()
		return nil, err
	}
	s.sip = c
	return s, nil
}

func (s *spray) close() {
	for _, c := range s.socks {
		c.Close()
	}
	if s.sip != nil {
		s.sip.Close()
	}
}

// bomb sends an INVITE of the attacker's whose SDP names port and the 15
// even ports around it on the callees' address: the newest offer for
// the answered call's port, and an older one for the ports of calls
// still to come.
func (s *spray) bomb(port uint16) error {
	var sdp strings.Builder
	sdp.WriteString("v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n")
	for i := -8; i < 8; i++ {
		fmt.Fprintf(&sdp, "m=audio %d RTP/AVP 8\r\n", int(port)+2*i)
	}
	_, err := s.sip.WriteToUDP(invite(int(port), "2500", sprayer.String(), 5060, sdp.String()), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5097})
	return err
}

// spray sends an SDP bomb naming the callee's port (and its
// neighbours'), then sprayPackets PCMA packets of random noise on each of
// spraySSRCs SSRCs at the callee's port, the first of them at once.
func (s *spray) spray(port uint16) error {
	if err := s.bomb(port); err != nil {
		return err
	}
	var st [spraySSRCs]sprayStream
	rnd := make([]byte, 4*spraySSRCs)
	rand.Read(rnd)
	for j := range st {
		st[j] = sprayStream{ssrc: binary.BigEndian.Uint32(rnd[4*j:]), seq: uint16(j * 1000), ts: uint32(j) * 1 << 20}
	}
	dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: int(port)}
	pkt := make([]byte, 12+160)
	for k := 0; k < sprayPackets; k++ {
		for j := range st {
			pkt[0], pkt[1] = 0x80, 8
			binary.BigEndian.PutUint16(pkt[2:], st[j].seq)
			binary.BigEndian.PutUint32(pkt[4:], st[j].ts)
			binary.BigEndian.PutUint32(pkt[8:], st[j].ssrc)
			rand.Read(pkt[12:])
			if _, err := s.socks[j].WriteToUDP(pkt, dst); err != nil {
				return err
			}
			st[j].seq++
			st[j].ts += 160
		}
		time.Sleep(40 * time.Millisecond)
	}
	s.mu.Lock()
	s.streams[port] = &st
	s.mu.Unlock()
	return nil
}

// target adds a port to forge digits into on fresh SSRCs (a caller's).
func (s *spray) target(port uint16) {
	var st [spraySSRCs]sprayStream
	rnd := make([]byte, 4*spraySSRCs)
	rand.Read(rnd)
	for j := range st {
		st[j] = sprayStream{ssrc: binary.BigEndian.Uint32(rnd[4*j:]), seq: uint16(j * 1000), ts: uint32(j) * 1 << 20}
	}
	s.mu.Lock()
	s.streams[port] = &st
	s.mu.Unlock()
}

// dtmf sends n forged RFC 4733 digits (each a new event: its own
// timestamp, end bit set) into the sprayed ports on the sprayed SSRCs
// and into the callers' ports on fresh ones, with the payload type the
// calls negotiated for telephone-events (101).
func (s *spray) dtmf(n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ports := make([]uint16, 0, len(s.streams))
	for p := range s.streams {
		ports = append(ports, p)
	}
	slices.Sort(ports)
	pkt := make([]byte, 16)
	for i := 0; i < n; i++ {
		port := ports[i%len(ports)]
		j := (i / len(ports)) % spraySSRCs
		st := &s.streams[port][j]
		pkt[0], pkt[1] = 0x80, 101|0x80
		binary.BigEndian.PutUint16(pkt[2:], st.seq)
		binary.BigEndian.PutUint32(pkt[4:], st.ts)
		binary.BigEndian.PutUint32(pkt[8:], st.ssrc)
		pkt[12], pkt[13] = byte(i%10), 0x80|10 // digit, end, volume
		binary.BigEndian.PutUint16(pkt[14:], 800)
		if _, err := s.socks[j].WriteToUDP(pkt, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: int(port)}); err != nil {
			return err
		}
		st.seq++
		st.ts += 1600
		if i%40 == 39 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	return nil
}

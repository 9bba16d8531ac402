package synth

import (
	"container/heap"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// Config describes the traffic to generate.
type Config struct {
	Calls      int           // answered calls
	Concurrent int           // how many overlap at once (start times are staggered); default Calls
	Duration   time.Duration // talk time of each answered call; default 10s
	Codec      string        // PCMA (default), PCMU or G722
	Start      time.Time     // capture time of the first packet; default 2026-01-01 09:00 UTC
	Seed       uint64
	DTMF       string // digits the caller sends mid-call (RFC 4733)
	Rejected   int    // extra calls rejected with 486 Busy Here
	HalfOpen   int    // extra INVITEs that are never answered
	Noise      int    // random UDP packets (not RTP-shaped) spread over the capture
	VLAN       uint16 // tag every frame with this 802.1Q VLAN (0: untagged)
	// Tone frequencies (Hz) of the caller's and callee's audio; defaults
	// 440 and 660, so the channels are distinguishable.
	CallerTone, CalleeTone float64
}

func (c *Config) defaults() {
	if c.Concurrent <= 0 || c.Concurrent > c.Calls {
		c.Concurrent = max(c.Calls, 1)
	}
	if c.Duration <= 0 {
		c.Duration = 10 * time.Second
	}
	if c.Codec == "" {
		c.Codec = "PCMA"
	}
	if c.Start.IsZero() {
		c.Start = time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	}
	if c.CallerTone == 0 {
		c.CallerTone = 440
	}
	if c.CalleeTone == 0 {
		c.CalleeTone = 660
	}
}

// Frame is one generated frame.
type Frame struct {
	Time time.Time
	Data []byte
	Call int // index of the dialog the frame belongs to; -1 for noise
}

// Summary counts what was generated.
type Summary struct {
	Frames    int
	SIP       int
	RTP       int
	Calls     int // INVITE dialogs
	Answered  int
	CallIDs   []string
	RTPPerDir int // RTP packets per direction of each answered call (without DTMF)
}

// Generator yields frames in time order.
type Generator struct {
	cfg     Config
	h       srcHeap
	rng     *rand.Rand
	buf     gopacket.SerializeBuffer
	Summary Summary
}

// New returns a generator for cfg.
func New(cfg Config) *Generator {
	cfg.defaults()
	g := &Generator{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0x5eed)), buf: gopacket.NewSerializeBuffer()}
	total := cfg.Calls + cfg.Rejected + cfg.HalfOpen
	// Stagger starts so that Concurrent calls overlap.
	step := time.Duration(0)
	if cfg.Calls > 0 {
		step = (cfg.Duration + 2*time.Second) / time.Duration(cfg.Concurrent)
	}
	for i := 0; i < total; i++ {
		kind := answered
		switch {
		case i >= cfg.Calls+cfg.Rejected:
			kind = halfOpen
		case i >= cfg.Calls:
			kind = rejected
		}
		at := cfg.Start.Add(time.Duration(i) * step)
		if kind != answered {
			at = cfg.Start.Add(time.Duration(g.rng.Int64N(int64(max(cfg.Duration, time.Second)))))
		}
		c := newCall(g, i, kind, at)
		g.Summary.Calls++
		g.Summary.CallIDs = append(g.Summary.CallIDs, c.callID)
		if kind == answered {
			g.Summary.Answered++
		}
		heap.Push(&g.h, c)
	}
	if cfg.Noise > 0 {
		heap.Push(&g.h, &noiseSrc{g: g, left: cfg.Noise, at: cfg.Start, span: cfg.Duration + time.Duration(total)*step})
	}
	g.Summary.RTPPerDir = int(cfg.Duration / (20 * time.Millisecond))
	return g
}

// Each calls fn with every remaining frame, in time order (the frame's
// data is valid during the call).
func (g *Generator) Each(fn func(Frame)) {
	for {
		f, ok := g.Next()
		if !ok {
			return
		}
		fn(f)
	}
}

// Next returns the next frame, or false at the end. The frame's data is
// valid until the next call.
func (g *Generator) Next() (Frame, bool) {
	for g.h.Len() > 0 {
		s := g.h[0]
		f, more := s.emit()
		if more {
			heap.Fix(&g.h, 0)
		} else {
			heap.Pop(&g.h)
		}
		if f.Data != nil {
			g.Summary.Frames++
			return f, true
		}
	}
	return Frame{}, false
}

type source interface {
	next() time.Time
	emit() (Frame, bool)
}

type srcHeap []source

func (h srcHeap) Len() int           { return len(h) }
func (h srcHeap) Less(i, j int) bool { return h[i].next().Before(h[j].next()) }
func (h srcHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *srcHeap) Push(x any)        { *h = append(*h, x.(source)) }
func (h *srcHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

type callKind int

const (
	answered callKind = iota
	rejected
	halfOpen
)

type event struct {
	at    time.Time
	sip   string // a SIP message from caller (fromA) or callee
	fromA bool
}

// call generates one dialog: SIP events at fixed times and RTP in both
// directions every 20 ms while it is up.
type call struct {
	g                      *Generator
	id                     int
	kind                   callKind
	callID                 string
	a, b                   netip.Addr
	aPort, bPort           uint16 // RTP ports
	fromTag, toTag, branch string
	sipEvents              []event
	si                     int
	answer, end            time.Time
	rtpNext                [2]time.Time
	rtpSeq                 [2]uint16
	rtpTS                  [2]uint32
	ssrc                   [2]uint32
	ipID                   [2]uint16
	phase                  [2]float64
	dtmfAt                 time.Time
	dtmfIdx                int
	dtmfPkt                int
}

func newCall(g *Generator, i int, kind callKind, at time.Time) *call {
	c := &call{g: g, id: i, kind: kind}
	c.callID = fmt.Sprintf("synth-%d-%08x@spanvault.test", i, g.rng.Uint32())
	c.a = netip.AddrFrom4([4]byte{10, 1, byte((i + 1) >> 8), byte(i + 1)})
	c.b = netip.AddrFrom4([4]byte{10, 2, byte((i + 1) >> 8), byte(i + 1)})
	c.aPort = uint16(20000 + 2*(i%10000))
	c.bPort = uint16(40000 + 2*(i%10000))
	c.fromTag = fmt.Sprintf("%08x", g.rng.Uint32())
	c.toTag = fmt.Sprintf("%08x", g.rng.Uint32())
	c.branch = fmt.Sprintf("z9hG4bK%08x", g.rng.Uint32())
	c.ssrc = [2]uint32{g.rng.Uint32(), g.rng.Uint32()}
	c.rtpSeq = [2]uint16{uint16(g.rng.Uint32()), uint16(g.rng.Uint32())}
	c.rtpTS = [2]uint32{g.rng.Uint32(), g.rng.Uint32()}
	invite := c.request("INVITE", 1, c.sdp(c.a, c.aPort), false)
	c.sipEvents = append(c.sipEvents, event{at: at, sip: invite, fromA: true})
	c.sipEvents = append(c.sipEvents, event{at: at.Add(5 * time.Millisecond), sip: c.response(100, "Trying", "INVITE", 1, "", false)})
	switch kind {
	case rejected:
		c.sipEvents = append(c.sipEvents,
			event{at: at.Add(300 * time.Millisecond), sip: c.response(486, "Busy Here", "INVITE", 1, "", true)},
			event{at: at.Add(305 * time.Millisecond), sip: c.request("ACK", 1, "", true), fromA: true})
	case halfOpen:
		// the INVITE is never answered
	default:
		cfg := g.cfg
		c.answer = at.Add(time.Second)
		c.end = c.answer.Add(cfg.Duration)
		c.sipEvents = append(c.sipEvents,
			event{at: at.Add(50 * time.Millisecond), sip: c.response(180, "Ringing", "INVITE", 1, "", true)},
			event{at: c.answer, sip: c.response(200, "OK", "INVITE", 1, c.sdp(c.b, c.bPort), true)},
			event{at: c.answer.Add(10 * time.Millisecond), sip: c.request("ACK", 1, "", true), fromA: true},
			event{at: c.end, sip: c.request("BYE", 2, "", true), fromA: true},
			event{at: c.end.Add(10 * time.Millisecond), sip: c.response(200, "OK", "BYE", 2, "", true)},
		)
		start := c.answer.Add(20 * time.Millisecond)
		c.rtpNext = [2]time.Time{start, start.Add(7 * time.Millisecond)}
		if cfg.DTMF != "" {
			c.dtmfAt = start.Add(cfg.Duration / 3)
		}
	}
	return c
}

func (c *call) next() time.Time {
	t := time.Time{}
	if c.si < len(c.sipEvents) {
		t = c.sipEvents[c.si].at
	}
	if c.kind == answered {
		for d := 0; d < 2; d++ {
			if c.rtpNext[d].Before(c.end) && (t.IsZero() || c.rtpNext[d].Before(t)) {
				t = c.rtpNext[d]
			}
		}
	}
	if t.IsZero() {
		return time.Unix(1<<40, 0)
	}
	return t
}

func (c *call) emit() (Frame, bool) {
	t := c.next()
	if c.si < len(c.sipEvents) && !c.sipEvents[c.si].at.After(t) {
		ev := c.sipEvents[c.si]
		c.si++
		src, dst := netip.AddrPortFrom(c.a, 5060), netip.AddrPortFrom(c.b, 5060)
		d := 0
		if !ev.fromA {
			src, dst, d = dst, src, 1
		}
		c.g.Summary.SIP++
		return Frame{Time: ev.at, Data: c.g.udp(src, dst, &c.ipID[d], []byte(ev.sip)), Call: c.id}, c.more()
	}
	for d := 0; d < 2; d++ {
		if c.kind == answered && c.rtpNext[d].Equal(t) {
			f := c.rtp(d, t)
			return f, c.more()
		}
	}
	return Frame{}, c.more()
}

func (c *call) more() bool {
	if c.si < len(c.sipEvents) {
		return true
	}
	return c.kind == answered && (c.rtpNext[0].Before(c.end) || c.rtpNext[1].Before(c.end))
}

func (c *call) rtp(d int, t time.Time) Frame {
	cfg := c.g.cfg
	src, dst := netip.AddrPortFrom(c.a, c.aPort), netip.AddrPortFrom(c.b, c.bPort)
	tone := cfg.CallerTone
	if d == 1 {
		src, dst = dst, src
		tone = cfg.CalleeTone
	}
	c.rtpNext[d] = c.rtpNext[d].Add(20 * time.Millisecond)
	pt := byte(8)
	switch cfg.Codec {
	case "PCMU":
		pt = 0
	case "G722":
		pt = 9
	}
	// DTMF from the caller: 5 event packets (3 of them end packets) per
	// digit, 100 ms apart per digit, replacing audio meanwhile.
	if d == 0 && !c.dtmfAt.IsZero() && !t.Before(c.dtmfAt) && c.dtmfIdx < len(cfg.DTMF) {
		digit := strings.IndexByte("0123456789*#ABCD", cfg.DTMF[c.dtmfIdx])
		p := make([]byte, 12+4)
		dur := uint16(160 * (min(c.dtmfPkt, 2) + 1))
		end := c.dtmfPkt >= 2
		hdr(p, 101, c.dtmfPkt == 0, c.rtpSeq[d], c.rtpTS[d], c.ssrc[d])
		p[12] = byte(max(digit, 0))
		p[13] = 10
		if end {
			p[13] |= 0x80
		}
		p[14], p[15] = byte(dur>>8), byte(dur)
		c.rtpSeq[d]++
		c.dtmfPkt++
		if c.dtmfPkt == 5 {
			c.dtmfPkt = 0
			c.dtmfIdx++
			c.rtpTS[d] += 160 * 5
			c.dtmfAt = t.Add(100 * time.Millisecond)
		}
		c.g.Summary.RTP++
		return Frame{Time: t, Data: c.g.udp(src, dst, &c.ipID[d], p), Call: c.id}
	}
	p := make([]byte, 12+160)
	hdr(p, pt, false, c.rtpSeq[d], c.rtpTS[d], c.ssrc[d])
	for i := 0; i < 160; i++ {
		v := math.Sin(c.phase[d]) * 8000
		c.phase[d] += 2 * math.Pi * tone / 8000
		switch cfg.Codec {
		case "PCMU":
			p[12+i] = LinearToULaw(int16(v))
		case "G722":
			p[12+i] = byte(0xfa) // a valid G.722 code stream of low-level noise
		default:
			p[12+i] = LinearToALaw(int16(v))
		}
	}
	c.rtpSeq[d]++
	c.rtpTS[d] += 160
	c.g.Summary.RTP++
	return Frame{Time: t, Data: c.g.udp(src, dst, &c.ipID[d], p), Call: c.id}
}

func hdr(p []byte, pt byte, marker bool, seq uint16, ts, ssrc uint32) {
	p[0] = 0x80
	p[1] = pt
	if marker {
		p[1] |= 0x80
	}
	p[2], p[3] = byte(seq>>8), byte(seq)
	p[4], p[5], p[6], p[7] = byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts)
	p[8], p[9], p[10], p[11] = byte(ssrc>>24), byte(ssrc>>16), byte(ssrc>>8), byte(ssrc)
}

func (c *call) sdp(addr netip.Addr, port uint16) string {
	pt, name := 8, "PCMA/8000"
	switch c.g.cfg.Codec {
	case "PCMU":
		pt, name = 0, "PCMU/8000"
	case "G722":
		pt, name = 9, "G722/8000"
	}
	return fmt.Sprintf("v=0\r\no=- %d 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio %d RTP/AVP %d 101\r\na=rtpmap:%d %s\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n",
		c.id, addr, addr, port, pt, pt, name)
}

func (c *call) request(method string, cseq int, body string, withToTag bool) string {
	to := fmt.Sprintf("<sip:2%04d@10.2.0.1>", c.id%10000)
	if withToTag {
		to += ";tag=" + c.toTag
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s sip:2%04d@%s SIP/2.0\r\n", method, c.id%10000, c.b)
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP %s:5060;branch=%s-%d\r\n", c.a, c.branch, cseq)
	fmt.Fprintf(&b, "Max-Forwards: 70\r\n")
	fmt.Fprintf(&b, "From: \"Caller %d\" <sip:+4930555%04d@10.1.0.1>;tag=%s\r\n", c.id, c.id%10000, c.fromTag)
	fmt.Fprintf(&b, "To: %s\r\n", to)
	fmt.Fprintf(&b, "Call-ID: %s\r\n", c.callID)
	fmt.Fprintf(&b, "CSeq: %d %s\r\n", cseq, method)
	fmt.Fprintf(&b, "Contact: <sip:+4930555%04d@%s:5060>\r\n", c.id%10000, c.a)
	if body != "" {
		fmt.Fprintf(&b, "Content-Type: application/sdp\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	return b.String()
}

func (c *call) response(code int, reason, method string, cseq int, body string, withToTag bool) string {
	to := fmt.Sprintf("<sip:2%04d@10.2.0.1>", c.id%10000)
	if withToTag {
		to += ";tag=" + c.toTag
	}
	var b strings.Builder
	fmt.Fprintf(&b, "SIP/2.0 %d %s\r\n", code, reason)
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP %s:5060;branch=%s-%d\r\n", c.a, c.branch, cseq)
	fmt.Fprintf(&b, "From: \"Caller %d\" <sip:+4930555%04d@10.1.0.1>;tag=%s\r\n", c.id, c.id%10000, c.fromTag)
	fmt.Fprintf(&b, "To: %s\r\n", to)
	fmt.Fprintf(&b, "Call-ID: %s\r\n", c.callID)
	fmt.Fprintf(&b, "CSeq: %d %s\r\n", cseq, method)
	if body != "" {
		fmt.Fprintf(&b, "Contact: <sip:2%04d@%s:5060>\r\nContent-Type: application/sdp\r\n", c.id%10000, c.b)
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	return b.String()
}

// noiseSrc emits random UDP datagrams that are not RTP-shaped.
type noiseSrc struct {
	g    *Generator
	left int
	at   time.Time
	span time.Duration
	ipID uint16
}

func (n *noiseSrc) next() time.Time { return n.at }

func (n *noiseSrc) emit() (Frame, bool) {
	g := n.g
	size := 20 + g.rng.IntN(200)
	p := make([]byte, size)
	for i := range p {
		p[i] = byte(g.rng.Uint32())
	}
	p[0] &^= 0xc0 // version 0: never RTP
	src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{172, 16, byte(g.rng.IntN(256)), byte(g.rng.IntN(256))}), uint16(1024+g.rng.IntN(60000)))
	dst := netip.AddrPortFrom(netip.AddrFrom4([4]byte{172, 17, byte(g.rng.IntN(256)), byte(g.rng.IntN(256))}), uint16(1024+g.rng.IntN(60000)))
	f := Frame{Time: n.at, Data: g.udp(src, dst, &n.ipID, p), Call: -1}
	n.left--
	if n.left > 0 {
		n.at = n.at.Add(n.span / time.Duration(n.g.cfg.Noise))
	}
	return f, n.left > 0
}

var (
	macA = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0a}
	macB = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0b}
)

// udp builds an Ethernet/IPv4/UDP frame (with a VLAN tag if configured).
func (g *Generator) udp(src, dst netip.AddrPort, ipID *uint16, payload []byte) []byte {
	*ipID++
	eth := &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, Id: *ipID, Flags: layers.IPv4DontFragment,
		SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
	udp := &layers.UDP{SrcPort: layers.UDPPort(src.Port()), DstPort: layers.UDPPort(dst.Port())}
	_ = udp.SetNetworkLayerForChecksum(ip) // fails only for a layer that is not IPv4/IPv6
	ls := []gopacket.SerializableLayer{eth}
	if g.cfg.VLAN != 0 {
		eth.EthernetType = layers.EthernetTypeDot1Q
		ls = append(ls, &layers.Dot1Q{VLANIdentifier: g.cfg.VLAN, Type: layers.EthernetTypeIPv4})
	}
	ls = append(ls, ip, udp, gopacket.Payload(payload))
	if err := gopacket.SerializeLayers(g.buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		panic(err) // only on a programming error in this generator
	}
	return append([]byte(nil), g.buf.Bytes()...)
}

// LinearToALaw encodes a 16-bit sample as G.711 A-law.
func LinearToALaw(pcm int16) byte {
	v := int(pcm)
	mask := 0xD5
	if v < 0 {
		mask = 0x55
		v = -v - 1
	}
	v >>= 3
	seg := 0
	for seg < 8 && v > (0x1F<<seg) {
		seg++
	}
	if seg >= 8 {
		return byte(0x7F ^ mask)
	}
	var aval int
	if seg < 1 {
		aval = v >> 1
	} else {
		aval = (seg << 4) | ((v >> seg) & 0x0F)
	}
	return byte(aval ^ mask)
}

// LinearToULaw encodes a 16-bit sample as G.711 u-law.
func LinearToULaw(pcm int16) byte {
	const bias = 0x84
	v := int(pcm)
	mask := 0xFF
	if v < 0 {
		v = -v
		mask = 0x7F
	}
	v += bias
	if v > 0x7FFF {
		v = 0x7FFF
	}
	seg := 0
	for x := v >> 7; x > 1 && seg < 7; x >>= 1 {
		seg++
	}
	uval := (seg << 4) | ((v >> (seg + 3)) & 0x0F)
	return byte(uval ^ mask)
}

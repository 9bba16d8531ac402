package capture

import (
	"container/list"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/reassembly"
	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/decode"
	"github.com/spanvault/spanvault/capture/sip"
)

// Stats counts what the pipeline saw, beyond the decoder's and tracker's
// own counters.
type Stats struct {
	UDP, TCP, Other uint64
	SIPOverUDP      uint64
	SIPOverTCP      uint64
	SIPParseErrors  uint64
	TLSConnections  uint64 // TCP connections to or from port 5061 carrying TLS: SIP the box cannot read
	TCPNotSIP       uint64 // TCP connections recognised as something else
	TCPShed         uint64 // TCP halves whose held bytes were dropped to stay within MaxTCPBytes
	// TCPStreamsEvicted counts TCP streams closed to stay within
	// MaxTCPStreams (tcpbound.go).
	TCPStreamsEvicted uint64
	DecodeErrors      uint64
	LastSIP           time.Time
	LastDecodeError   string
}

// Pipeline turns frames into calls: decode, TCP reassembly, SIP parsing,
// dialog tracking and media association, ending in the Recorder. It is
// the same for capture files and for live capture. It is not safe for
// concurrent use.
type Pipeline struct {
	Decoder *decode.Decoder
	Tracker *calls.Tracker
	Stats   Stats

	asm       *reassembly.Assembler
	pkt       decode.Packet
	msg       sip.Message
	frames    []calls.Frame
	lastFlush time.Time
	ctx       asmContext
	// MaxTCPBytes bounds what SIP over TCP holds over all connections
	// (unparsed bytes and copies of the segments that carried them);
	// past it the half that would grow loses what it holds (a stream that
	// never completes a message is attack state).
	MaxTCPBytes int
	tcpHeld     int
	// MaxTCPStreams bounds the TCP streams tracked (tcpbound.go); 0: no
	// bound.
	MaxTCPStreams int
	streams       streamLRU
}

// NewPipeline returns a pipeline feeding tracker.
func NewPipeline(dec *decode.Decoder, tracker *calls.Tracker) *Pipeline {
	p := &Pipeline{Decoder: dec, Tracker: tracker}
	pool := reassembly.NewStreamPool(&streamFactory{p: p})
	p.asm = reassembly.NewAssembler(pool)
	p.asm.AssemblerOptions.MaxBufferedPagesPerConnection = 256
	p.asm.AssemblerOptions.MaxBufferedPagesTotal = 16384
	p.MaxTCPBytes = 32 << 20
	p.MaxTCPStreams = 16384
	return p
}

// TCPHeld is the bytes SIP over TCP holds now.
func (p *Pipeline) TCPHeld() int { return p.tcpHeld }

// SetMaxBufferedPages bounds gopacket's out-of-order segment pages.
func (p *Pipeline) SetMaxBufferedPages(total int) {
	p.asm.AssemblerOptions.MaxBufferedPagesTotal = total
	p.asm.AssemblerOptions.MaxBufferedPagesPerConnection = min(256, total)
}

// Handle processes one frame. A frame that cannot be decoded is counted
// and reported through the returned error; the pipeline stays usable.
func (p *Pipeline) Handle(frame []byte, lt decode.LinkType, ts time.Time) error {
	pkt := &p.pkt
	ok, err := p.Decoder.Decode(frame, lt, ts, pkt)
	if err != nil {
		p.Stats.DecodeErrors++
		p.Stats.LastDecodeError = err.Error()
		return err
	}
	if !ok {
		return nil
	}
	p.HandlePacket(pkt)
	return nil
}

// HandlePacket processes a packet decoded elsewhere (live capture decodes
// on one goroutine per fanout socket and hands packets over here).
func (p *Pipeline) HandlePacket(pkt *decode.Packet) {
	switch pkt.Transport {
	case decode.UDP:
		p.Stats.UDP++
		p.udp(pkt)
	case decode.TCP:
		p.Stats.TCP++
		p.tcp(pkt)
	case decode.SCTP:
		p.Stats.Other++
		p.sctp(pkt)
	default:
		p.Stats.Other++
	}
}

func (p *Pipeline) udp(pkt *decode.Packet) {
	pl := pkt.Payload
	if len(pl) > 0 && pl[0] >= 'A' && pl[0] <= 'Z' && sip.Looks(pl) {
		if _, err := sip.Parse(pl, false, &p.msg); err == nil {
			p.Stats.SIPOverUDP++
			p.Stats.LastSIP = pkt.Time
			p.frames = p.frames[:0]
			for _, f := range pkt.Fragments {
				p.frames = append(p.frames, calls.Frame{Time: f.Time, Data: f.Frame, LinkType: pkt.LinkType})
			}
			p.frames = append(p.frames, calls.Frame{Time: pkt.Time, Data: pkt.Frame, LinkType: pkt.LinkType, HeaderLen: pkt.HeaderLen})
			p.Tracker.SIP(&p.msg, pkt.Time, pkt.Src, pkt.Dst, "udp", p.frames)
			return
		}
		p.Stats.SIPParseErrors++
	}
	p.Tracker.Media(pkt)
}

// sctp finds SIP in the DATA chunks of an SCTP packet (RFC 4168). Only
// unfragmented user messages are read; SCTP is rare on branch networks.
func (p *Pipeline) sctp(pkt *decode.Packet) {
	b := pkt.Payload
	if len(b) < 12 {
		return
	}
	sport, dport := binary.BigEndian.Uint16(b[0:2]), binary.BigEndian.Uint16(b[2:4])
	src := netip.AddrPortFrom(pkt.Src.Addr(), sport)
	dst := netip.AddrPortFrom(pkt.Dst.Addr(), dport)
	b = b[12:]
	for len(b) >= 4 {
		typ, flags := b[0], b[1]
		l := int(binary.BigEndian.Uint16(b[2:4]))
		if l < 4 || l > len(b) {
			return
		}
		chunk := b[4:l]
		if typ == 0 && flags&0x03 == 0x03 && len(chunk) > 12 {
			data := chunk[12:]
			if sip.Looks(data) {
				if _, err := sip.Parse(data, false, &p.msg); err == nil {
					p.Stats.LastSIP = pkt.Time
					p.frames = append(p.frames[:0], calls.Frame{Time: pkt.Time, Data: pkt.Frame, LinkType: pkt.LinkType})
					p.Tracker.SIP(&p.msg, pkt.Time, src, dst, "sctp", p.frames)
				} else {
					p.Stats.SIPParseErrors++
				}
			}
		}
		l = (l + 3) &^ 3 // chunks are padded to 4 bytes
		if l > len(b) {
			return
		}
		b = b[l:]
	}
}

// asmContext carries the current frame into the reassembler's callbacks,
// which run synchronously inside AssembleWithContext.
type asmContext struct {
	ci  gopacket.CaptureInfo
	pkt *decode.Packet
}

func (c *asmContext) GetCaptureInfo() gopacket.CaptureInfo { return c.ci }

func (p *Pipeline) tcp(pkt *decode.Packet) {
	src, dst := pkt.Src.Addr(), pkt.Dst.Addr()
	var flow gopacket.Flow
	if src.Is4() && dst.Is4() {
		s, d := src.As4(), dst.As4()
		flow = gopacket.NewFlow(layers.EndpointIPv4, s[:], d[:])
	} else {
		s, d := src.As16(), dst.As16()
		flow = gopacket.NewFlow(layers.EndpointIPv6, s[:], d[:])
	}
	p.ctx.ci = gopacket.CaptureInfo{Timestamp: pkt.Time, CaptureLength: len(pkt.Frame), Length: len(pkt.Frame)}
	p.ctx.pkt = pkt
	p.asm.AssembleWithContext(flow, pkt.TCP, &p.ctx)
	p.ctx.pkt = nil
	p.boundStreams()
	if pkt.Time.Sub(p.lastFlush) > 10*time.Second {
		p.lastFlush = pkt.Time
		p.asm.FlushCloseOlderThan(pkt.Time.Add(-2 * time.Minute))
	}
}

// Close ends every call (reason for calls still up) and every TCP stream.
func (p *Pipeline) Close(reason string) {
	p.asm.FlushAll()
	p.Tracker.Close(reason)
}

// Source yields frames; File and the live ring implement it.
type Source interface {
	Next() ([]byte, time.Time, decode.LinkType, error)
}

// Run feeds every frame of src through the pipeline until src ends. Decode
// errors of single frames are counted, not fatal; a source error (a
// truncated file) ends the run and is returned after what came before it
// was processed.
func (p *Pipeline) Run(src Source) error {
	for {
		data, ts, lt, err := src.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		_ = p.Handle(data, lt, ts)
	}
}

// streamFactory makes a tcpStream per TCP connection.
type streamFactory struct{ p *Pipeline }

func (f *streamFactory) New(netFlow, tcpFlow gopacket.Flow, tcp *layers.TCP, ac reassembly.AssemblerContext) reassembly.Stream {
	s := &tcpStream{p: f.p, netFlow: netFlow, sport: uint16(tcp.SrcPort), dport: uint16(tcp.DstPort)}
	f.p.streams.add(s)
	if c, ok := ac.(*asmContext); ok && c.pkt != nil {
		s.client, s.server = c.pkt.Src, c.pkt.Dst
		if c.pkt.Src.Port() == 5061 || c.pkt.Dst.Port() == 5061 {
			s.maybeTLS = true
		}
	}
	return s
}

type pendingSegment struct {
	seq   reassembly.Sequence
	end   reassembly.Sequence
	frame calls.Frame
}

type tcpHalf struct {
	buf      []byte
	baseSeq  reassembly.Sequence // sequence number of buf[0]
	baseSet  bool
	segments []pendingSegment
	held     int // bytes of buf and of the segments' frames
}

// shed drops everything a half holds.
func (s *tcpStream) shed(h *tcpHalf) {
	s.p.tcpHeld -= h.held
	h.held = 0
	h.buf = h.buf[:0:0]
	h.segments = nil
	h.baseSet = false
}

// room makes room for n more bytes within the budget; false: this half
// was shed instead.
func (s *tcpStream) room(h *tcpHalf, n int) bool {
	if s.p.MaxTCPBytes > 0 && s.p.tcpHeld+n > s.p.MaxTCPBytes {
		s.p.Stats.TCPShed++
		s.shed(h)
		return false
	}
	s.p.tcpHeld += n
	h.held += n
	return true
}

// tcpStream finds SIP messages in one TCP connection and keeps the frames
// that carried them, so that the recording holds the segments themselves.
type tcpStream struct {
	p              *Pipeline
	client, server netip.AddrPort
	half           [2]tcpHalf
	maybeTLS       bool
	decided        bool
	notSIP         bool
	// Its place among the pipeline's streams and what closing it needs
	// (tcpbound.go).
	elem         *list.Element
	proven       bool // carried a whole SIP message
	netFlow      gopacket.Flow
	sport, dport uint16 // of the packet that made it (gopacket's client to server)
	evicting     bool
	probed       bool
	probeSeq     uint32
	complete     bool
}

func (s *tcpStream) Accept(tcp *layers.TCP, ci gopacket.CaptureInfo, dir reassembly.TCPFlowDirection, nextSeq reassembly.Sequence, start *bool, ac reassembly.AssemblerContext) bool {
	if s.evicting {
		return s.evictAccept(tcp, nextSeq, start)
	}
	*start = true // streams seen mid-connection are still read
	s.p.streams.touch(s)
	if s.notSIP {
		return false
	}
	c, ok := ac.(*asmContext)
	if !ok || c.pkt == nil || len(tcp.Payload) == 0 {
		return true
	}
	h := &s.half[dirIndex(dir)]
	if len(h.segments) < 4096 && s.room(h, len(c.pkt.Frame)) {
		seq := reassembly.Sequence(tcp.Seq)
		h.segments = append(h.segments, pendingSegment{
			seq: seq, end: seq.Add(len(tcp.Payload)),
			frame: calls.Frame{Time: c.pkt.Time, Data: append([]byte(nil), c.pkt.Frame...), LinkType: c.pkt.LinkType, HeaderLen: c.pkt.HeaderLen},
		})
	}
	return true
}

func dirIndex(d reassembly.TCPFlowDirection) int {
	if d == reassembly.TCPDirClientToServer {
		return 0
	}
	return 1
}

func (s *tcpStream) ReassembledSG(sg reassembly.ScatterGather, ac reassembly.AssemblerContext) {
	if s.notSIP || s.evicting {
		return
	}
	dir, _, _, skip := sg.Info()
	length, _ := sg.Lengths()
	if length == 0 {
		return
	}
	data := sg.Fetch(length)
	h := &s.half[dirIndex(dir)]
	src, dst := s.client, s.server
	if dir != reassembly.TCPDirClientToServer {
		src, dst = dst, src
	}
	if !s.decided {
		s.decided = true
		switch {
		case len(data) >= 3 && data[0] == 0x16 && data[1] == 0x03:
			if s.maybeTLS {
				s.p.Stats.TLSConnections++
			}
			s.notSIP = true
			return
		case !sip.Looks(data):
			s.p.Stats.TCPNotSIP++
			s.notSIP = true
			return
		}
	}
	if skip != 0 || !h.baseSet {
		// A gap in the stream (or its first bytes): resynchronise on the
		// segment that starts the new data.
		s.p.tcpHeld -= len(h.buf)
		h.held -= len(h.buf)
		h.buf = h.buf[:0]
		h.baseSet = true
		h.baseSeq = s.firstSeq(h, data)
	}
	if !s.room(h, len(data)) {
		return
	}
	h.buf = append(h.buf, data...)
	for len(h.buf) > 0 {
		n, err := sip.Parse(h.buf, true, &s.p.msg)
		if errors.Is(err, sip.ErrIncomplete) {
			break
		}
		if err != nil {
			// Lost framing: drop to the next line that starts a message.
			s.p.Stats.SIPParseErrors++
			next := resync(h.buf)
			s.consume(h, next)
			continue
		}
		frames := h.framesFor(n)
		s.p.Stats.SIPOverTCP++
		s.p.Stats.LastSIP = ac.GetCaptureInfo().Timestamp
		at := ac.GetCaptureInfo().Timestamp
		if len(frames) > 0 {
			at = frames[len(frames)-1].Time
		}
		s.p.Tracker.SIP(&s.p.msg, at, src, dst, "tcp", frames)
		s.p.streams.prove(s)
		s.consume(h, n)
	}
	if len(h.buf) > sip.MaxMessage {
		s.p.Stats.SIPParseErrors++
		s.consume(h, len(h.buf))
	}
}

// firstSeq finds the sequence number of the segment whose payload begins
// with data.
func (s *tcpStream) firstSeq(h *tcpHalf, data []byte) reassembly.Sequence {
	for i := len(h.segments) - 1; i >= 0; i-- {
		seg := h.segments[i]
		pl := seg.frame.Data[seg.frame.HeaderLen:]
		if len(pl) > 0 && len(data) > 0 && len(pl) <= len(seg.frame.Data) && pl[0] == data[0] {
			n := min(len(pl), len(data))
			if string(pl[:n]) == string(data[:n]) {
				return seg.seq
			}
		}
	}
	if len(h.segments) > 0 {
		return h.segments[0].seq
	}
	return 0
}

// framesFor returns the frames that carried the next n bytes of the half.
func (h *tcpHalf) framesFor(n int) []calls.Frame {
	start, end := h.baseSeq, h.baseSeq.Add(n)
	var out []calls.Frame
	for _, seg := range h.segments {
		if seg.end.Difference(start) < 0 && end.Difference(seg.seq) < 0 {
			out = append(out, seg.frame)
		}
	}
	return out
}

func (s *tcpStream) consume(h *tcpHalf, n int) {
	h.buf = h.buf[n:]
	freed := n
	h.baseSeq = h.baseSeq.Add(n)
	keep := h.segments[:0]
	for _, seg := range h.segments {
		if h.baseSeq.Difference(seg.end) > 0 {
			keep = append(keep, seg)
		} else {
			freed += len(seg.frame.Data)
		}
	}
	clear(h.segments[len(keep):])
	h.segments = keep
	s.p.tcpHeld -= freed
	h.held -= freed
	if len(h.buf) == 0 {
		h.buf = h.buf[:0:0]
	}
}

func resync(b []byte) int {
	for i := 1; i < len(b); i++ {
		if b[i-1] == '\n' && sip.Looks(b[i:]) {
			return i
		}
	}
	return len(b)
}

func (s *tcpStream) ReassemblyComplete(ac reassembly.AssemblerContext) bool {
	s.shed(&s.half[0])
	s.shed(&s.half[1])
	s.complete = true
	s.p.streams.remove(s)
	return true
}

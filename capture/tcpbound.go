package capture

import (
	"container/list"
	"encoding/binary"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/reassembly"
)

// The number of TCP streams is bounded, not only their bytes: 400,000
// one-segment SIP-over-TCP connections on the mirror once took the
// daemon from 154 to 561 MB, and kept it there (gopacket's stream pool
// never gives a connection back to the heap; it reuses it). Past
// MaxTCPStreams the least recently seen stream that never carried a whole
// SIP message is closed (its bytes dropped, counted in Stats.TCPShed and
// Stats.TCPStreamsEvicted); streams that carried one (a trunk, a phone
// registered over TCP) go only when no other is left. Closing is done the
// way the wire would: a reset, injected into gopacket's assembler for each
// half at the sequence number it expects, so that the pool frees the
// connection (gopacket has no call to close one connection).

// TCPStreamBytes is what one TCP stream costs at most without held bytes
// (our stream, gopacket's connection and its pool and map slots, twice
// over for the pool's doubling): measured by TestTCPStreamBound, rounded
// up.
const TCPStreamBytes = 3 << 10

// streamLRU orders the pipeline's TCP streams, least recently seen first:
// those that never carried a whole SIP message, then those that did.
type streamLRU struct {
	unproven, proven list.List
	n                int
}

func (l *streamLRU) add(s *tcpStream) {
	s.elem = l.unproven.PushBack(s)
	l.n++
}

func (l *streamLRU) touch(s *tcpStream) {
	if s.elem == nil {
		return
	}
	if s.proven {
		l.proven.MoveToBack(s.elem)
	} else {
		l.unproven.MoveToBack(s.elem)
	}
}

// prove moves s among the streams that carried a SIP message.
func (l *streamLRU) prove(s *tcpStream) {
	if s.proven || s.elem == nil {
		return
	}
	l.unproven.Remove(s.elem)
	s.proven = true
	s.elem = l.proven.PushBack(s)
}

func (l *streamLRU) remove(s *tcpStream) {
	if s.elem == nil {
		return
	}
	if s.proven {
		l.proven.Remove(s.elem)
	} else {
		l.unproven.Remove(s.elem)
	}
	s.elem = nil
	l.n--
}

// victim is the stream to close first.
func (l *streamLRU) victim() *tcpStream {
	if e := l.unproven.Front(); e != nil {
		return e.Value.(*tcpStream)
	}
	if e := l.proven.Front(); e != nil {
		return e.Value.(*tcpStream)
	}
	return nil
}

// TCPStreams is the number of TCP streams the pipeline tracks now.
func (p *Pipeline) TCPStreams() int { return p.streams.n }

// boundStreams closes the least recently seen streams while there are
// more than MaxTCPStreams.
func (p *Pipeline) boundStreams() {
	for p.MaxTCPStreams > 0 && p.streams.n > p.MaxTCPStreams {
		s := p.streams.victim()
		if s == nil {
			return
		}
		p.Stats.TCPStreamsEvicted++
		p.closeStream(s)
		// Whatever gopacket did, the stream no longer counts.
		p.streams.remove(s)
	}
}

// closeStream resets both halves of s inside gopacket's assembler: a
// probe (no flags) that our Accept answers with the sequence number the
// half expects and refuses, then a reset at that number, which closes the
// half; once both are closed gopacket calls ReassemblyComplete and frees
// the connection.
func (p *Pipeline) closeStream(s *tcpStream) {
	p.Stats.TCPShed++ // capture state shed: an attack sign
	s.evicting = true
	saved := p.ctx
	p.ctx.pkt = nil
	for dir := 0; dir < 2 && !s.complete; dir++ {
		net, sp, dp := s.netFlow, s.sport, s.dport
		if dir == 1 {
			net, sp, dp = net.Reverse(), dp, sp
		}
		s.probeSeq, s.probed = 0, false
		p.asm.AssembleWithContext(net, synthTCP(sp, dp, 0, false), &p.ctx)
		if !s.probed {
			continue // gopacket has no such half (it was freed already)
		}
		p.asm.AssembleWithContext(net, synthTCP(sp, dp, s.probeSeq, true), &p.ctx)
	}
	p.ctx = saved
}

// synthTCP is a TCP header from sport to dport, a reset when rst.
func synthTCP(sport, dport uint16, seq uint32, rst bool) *layers.TCP {
	var h [20]byte
	binary.BigEndian.PutUint16(h[0:], sport)
	binary.BigEndian.PutUint16(h[2:], dport)
	binary.BigEndian.PutUint32(h[4:], seq)
	h[12] = 5 << 4
	if rst {
		h[13] = 0x04
	}
	var t layers.TCP
	// A header built above, twenty bytes with a data offset of five: it
	// always decodes.
	_ = t.DecodeFromBytes(h[:], gopacket.NilDecodeFeedback)
	return &t
}

// evictAccept is Accept for a stream being closed: it answers the probe
// with the half's expected sequence number and lets only the reset in.
func (s *tcpStream) evictAccept(tcp *layers.TCP, nextSeq reassembly.Sequence, start *bool) bool {
	if !tcp.RST {
		if nextSeq >= 0 {
			s.probeSeq = uint32(nextSeq)
		}
		s.probed = true
		return false
	}
	*start = true
	return true
}

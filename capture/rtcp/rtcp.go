package rtcp

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// RTCP packet types (RFC 3550 section 12.1).
const (
	TypeSR   = 200
	TypeRR   = 201
	TypeSDES = 202
	TypeBYE  = 203
	TypeAPP  = 204
)

// Lengths of the fixed parts.
const (
	headerLen      = 4
	senderInfoLen  = 20
	reportBlockLen = 24
)

// SenderInfo is the sender information of a sender report.
type SenderInfo struct {
	NTP         uint64 // NTP timestamp of the report
	RTPTime     uint32 // the same instant on the stream's RTP clock
	PacketCount uint32 // RTP data packets sent since the stream began
	OctetCount  uint32 // payload octets sent since the stream began
}

// ReportBlock is one reception report: what the packet's sender received
// of source SSRC.
type ReportBlock struct {
	SSRC         uint32 // the source reported on
	FractionLost uint8  // since the previous report, in 1/256
	// CumulativeLost is the packets lost since reception began: expected
	// (from the extended highest sequence number and the first one
	// received) minus received. It is a 24-bit signed number: duplicates
	// make it negative.
	CumulativeLost int32
	HighestSeq     uint32 // extended highest sequence number received
	Jitter         uint32 // interarrival jitter, in RTP timestamp units
	LSR            uint32 // middle 32 bits of the last SR's NTP time
	DLSR           uint32 // delay since that SR, in 1/65536 s
}

// Packet is one RTCP packet of a compound packet. Its report blocks are
// read from the buffer given to the Reader, which must stay unchanged
// while they are read.
type Packet struct {
	Type   uint8
	Count  uint8 // report count (SR, RR), source count (SDES, BYE) or subtype
	Length int   // bytes, header included
	// SSRC is the sender of an SR or RR (for other types, the first
	// 32-bit word after the header, or 0).
	SSRC   uint32
	Sender SenderInfo // SR only
	blocks []byte
}

// Blocks returns the number of report blocks (SR and RR; 0 otherwise).
func (p *Packet) Blocks() int { return len(p.blocks) / reportBlockLen }

// Block returns report block i (0 <= i < Blocks()).
func (p *Packet) Block(i int) ReportBlock {
	b := p.blocks[i*reportBlockLen : (i+1)*reportBlockLen]
	lost := int32(uint32(b[5])<<16|uint32(b[6])<<8|uint32(b[7])) << 8 >> 8 // sign-extend 24 bits
	return ReportBlock{
		SSRC:           binary.BigEndian.Uint32(b[0:4]),
		FractionLost:   b[4],
		CumulativeLost: lost,
		HighestSeq:     binary.BigEndian.Uint32(b[8:12]),
		Jitter:         binary.BigEndian.Uint32(b[12:16]),
		LSR:            binary.BigEndian.Uint32(b[16:20]),
		DLSR:           binary.BigEndian.Uint32(b[20:24]),
	}
}

// Errors of Next. They are fixed values: a malformed packet costs no
// allocation.
var (
	ErrVersion = errors.New("rtcp: version is not 2")
	ErrShort   = errors.New("rtcp: packet runs past the buffer")
	ErrCount   = errors.New("rtcp: report count does not fit the packet's length")
)

// Reader walks a compound RTCP packet.
type Reader struct {
	b   []byte
	off int
}

// NewReader returns a Reader over b (one UDP payload).
func NewReader(b []byte) Reader { return Reader{b: b} }

// Reset makes r read b from its start.
func (r *Reader) Reset(b []byte) { r.b, r.off = b, 0 }

// Next reads the next packet into p. It returns false at the end of the
// buffer, and false with an error at the first malformed packet (the
// walk ends there).
func (r *Reader) Next(p *Packet) (bool, error) {
	rest := r.b[r.off:]
	if len(rest) == 0 {
		return false, nil
	}
	if len(rest) < headerLen {
		r.off = len(r.b)
		return false, ErrShort
	}
	if rest[0]>>6 != 2 {
		r.off = len(r.b)
		return false, ErrVersion
	}
	n := (int(binary.BigEndian.Uint16(rest[2:4])) + 1) * 4
	if n > len(rest) {
		r.off = len(r.b)
		return false, ErrShort
	}
	body := rest[headerLen:n]
	if rest[0]&0x20 != 0 {
		// Padding: the last byte counts the padding bytes, itself included.
		pad := int(rest[n-1])
		if pad == 0 || pad > len(body) {
			r.off = len(r.b)
			return false, ErrShort
		}
		body = body[:len(body)-pad]
	}
	*p = Packet{Type: rest[1], Count: rest[0] & 0x1f, Length: n}
	if len(body) >= 4 {
		p.SSRC = binary.BigEndian.Uint32(body[0:4])
	}
	switch p.Type {
	case TypeSR:
		need := 4 + senderInfoLen + int(p.Count)*reportBlockLen
		if len(body) < need {
			r.off = len(r.b)
			return false, ErrCount
		}
		s := body[4:]
		p.Sender = SenderInfo{
			NTP:         binary.BigEndian.Uint64(s[0:8]),
			RTPTime:     binary.BigEndian.Uint32(s[8:12]),
			PacketCount: binary.BigEndian.Uint32(s[12:16]),
			OctetCount:  binary.BigEndian.Uint32(s[16:20]),
		}
		p.blocks = body[4+senderInfoLen : need]
	case TypeRR:
		need := 4 + int(p.Count)*reportBlockLen
		if len(body) < need {
			r.off = len(r.b)
			return false, ErrCount
		}
		p.blocks = body[4:need]
	}
	r.off += n
	return true, nil
}

// String describes a report block the way tshark's fields name it.
func (b ReportBlock) String() string {
	return fmt.Sprintf("ssrc=0x%08x fraction=%d/256 cumulative_lost=%d highest_seq=%d jitter=%d", b.SSRC, b.FractionLost, b.CumulativeLost, b.HighestSeq, b.Jitter)
}

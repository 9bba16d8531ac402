package rtphdr

import "encoding/binary"

// Header is a parsed RTP header. Offsets index the buffer given to
// Parse; nothing is copied.
type Header struct {
	Marker      bool
	PayloadType uint8
	Seq         uint16
	Timestamp   uint32
	SSRC        uint32
	CSRCCount   int
	Extension   bool
	Profile     uint16 // the extension's profile, when Extension
	ExtStart    int    // the extension block's data (after profile and length)
	ExtEnd      int
	Len         int // header length: where the payload starts
	PaddingSize int // padding bytes at the end (0 when BadPadding)
	BadPadding  bool
	PayloadEnd  int // where the payload ends (before padding)
}

// Parse reads b's RTP header into h and reports whether b is an RTP
// packet (version 2, every length field within b).
func (h *Header) Parse(b []byte) bool {
	if len(b) < 12 || b[0]>>6 != 2 {
		return false
	}
	cc := int(b[0] & 0x0f)
	n := 12 + 4*cc
	if len(b) < n {
		return false
	}
	h.Extension = b[0]&0x10 != 0
	h.Profile, h.ExtStart, h.ExtEnd = 0, 0, 0
	if h.Extension {
		if len(b) < n+4 {
			return false
		}
		h.Profile = binary.BigEndian.Uint16(b[n:])
		h.ExtStart = n + 4
		n = h.ExtStart + 4*int(binary.BigEndian.Uint16(b[n+2:]))
		h.ExtEnd = n
		if len(b) < n {
			return false
		}
	}
	h.Marker = b[1]&0x80 != 0
	h.PayloadType = b[1] & 0x7f
	h.Seq = binary.BigEndian.Uint16(b[2:4])
	h.Timestamp = binary.BigEndian.Uint32(b[4:8])
	h.SSRC = binary.BigEndian.Uint32(b[8:12])
	h.CSRCCount = cc
	h.Len = n
	h.PayloadEnd = len(b)
	h.PaddingSize, h.BadPadding = 0, false
	if b[0]&0x20 != 0 {
		pad := int(b[len(b)-1])
		if pad == 0 || len(b) <= n || len(b)-pad < n {
			h.BadPadding = true
		} else {
			h.PaddingSize = pad
			h.PayloadEnd = len(b) - pad
		}
	}
	return true
}

// CSRC returns the i-th contributing source of the packet h was parsed
// from.
func (h *Header) CSRC(b []byte, i int) uint32 {
	return binary.BigEndian.Uint32(b[12+4*i:])
}

// Payload returns the packet's payload, padding removed.
func (h *Header) Payload(b []byte) []byte { return b[h.Len:h.PayloadEnd] }

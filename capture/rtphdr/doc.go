// Package rtphdr reads an RTP packet's header (RFC 3550 section 5.1):
// the fixed twelve bytes, the CSRC list, the header extension block
// (RFC 3550 5.3.1, with RFC 8285's one- and two-byte profiles left as a
// block) and the padding count, without allocating: it runs once per
// captured packet on the tracker's hot path and once per stored packet
// when a recording is played or exported.
//
// Leniency, written down: a recorder keeps what a network carried, so
// Parse accepts two things pion/rtp (the reference, FuzzDifferential)
// refuses: RFC 8285 extension elements whose lengths run past their
// block (the block's own length is checked), and an invalid padding
// count (zero, or more than the payload), which is reported in
// BadPadding and treated as no padding. Everything pion/rtp accepts is
// read exactly as pion/rtp reads it: version, marker, payload type,
// sequence number, timestamp, SSRC, CSRCs, extension profile and block,
// padding size and the payload's bounds. A version other than 2 is not
// RTP.
package rtphdr

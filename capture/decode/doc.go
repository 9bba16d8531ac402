// Package decode turns captured frames into transport-level packets: it is
// where bytes from a mirror port or a capture file become "a UDP datagram
// from A to B with this payload".
//
// It understands the link layers a SPAN feed carries (Ethernet, 802.1Q and
// QinQ tags, Linux cooked capture v1 and v2, raw IP, BSD loopback), the
// remote-mirror encapsulations a switch may wrap them in (GRE, ERSPAN types
// I, II and III, VXLAN, IP-in-IP), IPv4 and IPv6, and it reassembles IP
// fragments so that a large SIP INVITE over UDP is not lost. Layers are
// decoded with gopacket's DecodingLayer implementations driven by a loop of
// our own, because gopacket's DecodingLayerParser cannot decode the same
// layer type twice in one frame (QinQ, or Ethernet inside GRE inside
// Ethernet).
//
// Invariants:
//   - Decode allocates nothing for unfragmented frames: all layer structs
//     live in the Decoder and are reused; the Packet it fills points into the
//     caller's frame.
//   - Malformed input returns an error and never panics.
//   - A packet seen twice within the duplicate window (two mirrored switch
//     ports carrying the same packet) is reported once; the second copy is
//     counted in Stats.Duplicates.
//   - A Decoder is not safe for concurrent use; use one per capture thread.
package decode

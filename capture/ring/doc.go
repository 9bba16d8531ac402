// Package ring is live capture without cgo: an AF_PACKET socket with a
// TPACKET_V3 memory-mapped receive ring, built on golang.org/x/sys/unix
// (gopacket's afpacket needs cgo, and a gokrazy image has no libc).
//
// The kernel fills fixed-size blocks of the ring with packets and hands a
// block to user space when it is full or its retire timeout passes; Next
// walks the packets of the current block in place and gives the block back
// when the next one is needed. A classic BPF filter attached with
// SO_ATTACH_FILTER keeps everything but IP (UDP, TCP, SCTP, GRE, IP-in-IP)
// in the kernel. Several Rings may join one PACKET_FANOUT group to spread
// flows across cores (the hash keeps a flow on one socket).
//
// The kernel strips 802.1Q tags before a packet socket sees a frame and
// reports the tag in the ring header; Next puts the tag back, so what the
// decoder sees is the frame as it was on the wire.
//
// Invariants: a frame returned by Next is valid until the next call; Next
// allocates nothing; kernel drops are read with PACKET_STATISTICS and
// accumulated, never lost.
package ring

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
// A ring's capacity is in time as well as bytes: at a trickle every block
// is handed over at its retire timeout (50 ms) nearly empty, so a reader
// stalled for Blocks x 50 ms overflows it however large the blocks are.
// Hence many smaller blocks (256 of 256 KiB by default), and Ready, which
// tells the reader how many blocks are waiting (capture.Live turns it into
// Behind, and the vault's writer yields to it). The box's own outgoing
// packets are kept out of the ring by the kernel (PACKET_IGNORE_OUTGOING).
//
// The kernel strips 802.1Q tags before a packet socket sees a frame and
// reports the tag in the ring header; Next puts the tag back, so what the
// decoder sees is the frame as it was on the wire.
//
// Invariants: a frame returned by Next is valid until the next call; Next
// allocates nothing; kernel drops are read with PACKET_STATISTICS and
// accumulated, never lost.
package ring

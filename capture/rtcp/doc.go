// Package rtcp reads the parts of RTCP compound packets (RFC 3550 section
// 6.4) that say how complete a stream is: the sender report's sender
// information (the sender's cumulative packet and octet counts) and the
// report blocks of sender and receiver reports (for each source heard,
// the fraction lost, the cumulative number of packets lost and the
// extended highest sequence number received).
//
// It reads without allocating: the call tracker runs it on every RTCP
// packet it associates with a call. Reader walks a compound packet one
// RTCP packet at a time; a Packet's report blocks are read in place.
//
// What is checked: version 2; each packet's length lies within the
// buffer; an SR or RR's report count fits in its length. A packet that
// fails a check ends the walk with an error (what came before it was
// read). Other packet types (SDES, BYE, APP, XR, feedback) are returned
// with their type and length and otherwise skipped. Padding (the P bit)
// is allowed on any packet and lies within its length. Encrypted SRTCP
// is not readable and fails the version or length checks, or reads as
// nonsense that the tracker's association by SSRC then ignores.
package rtcp

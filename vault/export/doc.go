// Package export turns a sealed recording back into what an auditor
// plays: the original packets as a pcap file, byte for byte with their
// capture timestamps, or the call's audio as a stereo WAV file (caller
// left, callee right). Exporting needs the identity: the box itself cannot
// do it.
package export

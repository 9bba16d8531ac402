// Package synth generates synthetic SIP and RTP traffic as captured
// Ethernet frames: the project's own sample capture, the load for
// benchmarks, and adversarial captures (half-open dialogs, RTP noise) for
// memory tests. Nothing here is copied from elsewhere; every packet is
// built with gopacket's layers, with valid checksums.
//
// Calls are generated lazily and merged by time, so a capture of any
// length takes constant memory to produce. Generation is deterministic for
// a given Config (including Seed).
package synth

// Package capture turns packets into calls. A Pipeline takes frames from a
// Source (a capture file, or the live AF_PACKET ring of package ring),
// decodes them (package decode), reassembles SIP carried over TCP with
// gopacket's reassembly, parses SIP and SDP (packages sip and sdp) and hands
// messages and media to the dialog tracker (package calls), which
// associates every RTP stream with its call and passes each call's frames,
// byte for byte, to a Recorder: the vault.
//
// The same pipeline serves offline files and live capture, so what a test
// shows on a capture file holds on the wire. A Pipeline is single-threaded;
// Live decodes on one goroutine per fanout socket and runs the pipeline
// behind its mutex.
//
// Live reports when its rings fill (Behind), so that work which can wait
// (sealing call records) waits and packets never do. A capture file is
// read through a private mapping on Linux: its frames are not copied.
//
// Invariants: no input frame makes the pipeline panic; a frame that fails
// to decode is counted (Stats.DecodeErrors) and skipped; per-packet work
// for RTP allocates nothing in steady state.
package capture

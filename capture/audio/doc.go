// Package audio decodes the audio of recorded calls: G.711 A-law and
// u-law and G.722 into 16-bit PCM, laid on each stream's RTP timeline so
// that lost packets and gaps become silence of the right length and the
// two directions of a call stay in sync, written as a stereo WAV file
// (caller left, callee right).
//
// Codecs without a decoder here (Opus, G.729, ...) are never turned into
// noise: the renderer reports them, and the caller exports a pcap instead.
//
// Rendering is bounded: a packet whose RTP timestamp lies more than
// JumpLimit from where its capture time puts it starts a new segment of
// its stream at its capture time (counted in Result.Jumps), and nothing
// is rendered, or allocated, past the span of the packets' capture times
// or the call's length from its index entry (Options.MaxDuration), each
// plus Margin.
package audio

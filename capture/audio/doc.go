// Package audio decodes the audio of recorded calls: G.711 A-law and
// u-law and G.722 into 16-bit PCM, laid on each stream's RTP timeline so
// that lost packets and gaps become silence of the right length and the
// two directions of a call stay in sync, written as a stereo WAV file
// (caller left, callee right).
//
// Codecs without a decoder here (Opus, G.729, ...) are never turned into
// noise: the renderer reports them, and the caller exports a pcap instead.
package audio

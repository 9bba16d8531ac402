// Package media reads a sealed recording's frames back as media, the
// part of export both the box and the archive need: the RTP packets the
// renderer mixes (AudioReader), which streams make up the call's audio
// (Explained) and how long it may render (RenderBound), and the original
// packets as a pcap file (WritePcap).
//
// It reads only what the contract of package record fixes (the entry's
// stream figures, the frame kind and direction bytes) and the sealed
// frames themselves, and imports nothing of the vault's storage or the
// call tracker: the archive links it to play recordings without linking
// the box. vault/export keeps its names for the box's side.
package media

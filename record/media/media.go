package media

import (
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/spanvault/spanvault/capture/audio"
	"github.com/spanvault/spanvault/capture/decode"
	"github.com/spanvault/spanvault/capture/rtphdr"
	"github.com/spanvault/spanvault/record"
	"github.com/spanvault/spanvault/vault/sealed"
)

// WritePcap writes frames as a pcap file (pcapng when the frames have more
// than one link type), nanosecond timestamps, original bytes.
func WritePcap(w io.Writer, frames []sealed.Frame) error {
	links := map[uint16]bool{}
	for _, f := range frames {
		links[f.LinkType] = true
	}
	if len(links) <= 1 {
		link := uint16(decode.LinkEthernet)
		for l := range links {
			link = l
		}
		pw := pcapgo.NewWriterNanos(w)
		if err := pw.WriteFileHeader(262144, layers.LinkType(link)); err != nil {
			return err
		}
		for _, f := range frames {
			ci := gopacket.CaptureInfo{Timestamp: f.Time, CaptureLength: len(f.Data), Length: len(f.Data)}
			if err := pw.WritePacket(ci, f.Data); err != nil {
				return err
			}
		}
		return nil
	}
	var order []uint16
	for l := range links {
		order = append(order, l)
	}
	sort.Slice(order, func(i, j int) bool { return order[i] < order[j] })
	ng, err := pcapgo.NewNgWriter(w, layers.LinkType(order[0]))
	if err != nil {
		return err
	}
	index := map[uint16]int{order[0]: 0}
	for _, l := range order[1:] {
		i, err := ng.AddInterface(pcapgo.NgInterface{LinkType: layers.LinkType(l), SnapLength: 262144, TimestampResolution: 9})
		if err != nil {
			return err
		}
		index[l] = i
	}
	for _, f := range frames {
		ci := gopacket.CaptureInfo{Timestamp: f.Time, CaptureLength: len(f.Data), Length: len(f.Data), InterfaceIndex: index[f.LinkType]}
		if err := ng.WritePacket(ci, f.Data); err != nil {
			return err
		}
	}
	return ng.Flush()
}

// AudioPackets extracts the RTP packets of a recording for the renderer.
func AudioPackets(frames []sealed.Frame, formats map[uint8]string) []audio.Packet {
	a := NewAudioReader(formats)
	var out []audio.Packet
	for i := range frames {
		if p, ok := a.Packet(&frames[i]); ok {
			p.Payload = append([]byte(nil), p.Payload...)
			out = append(out, p)
		}
	}
	return out
}

// AudioReader turns stored frames into the renderer's packets one at a
// time (playback reads a recording frame by frame).
type AudioReader struct {
	dec     *decode.Decoder
	pkt     decode.Packet
	formats map[uint8]string
}

// NewAudioReader reads with the recording's payload type names.
func NewAudioReader(formats map[uint8]string) *AudioReader {
	return &AudioReader{dec: decode.New(decode.Options{}), formats: formats}
}

// Packet returns the RTP packet a frame carries; its Payload points into
// the frame's data.
func (a *AudioReader) Packet(f *sealed.Frame) (audio.Packet, bool) {
	if record.Kind(f.Kind) != record.KindRTP {
		return audio.Packet{}, false
	}
	ok, err := a.dec.Decode(f.Data, decode.LinkType(f.LinkType), f.Time, &a.pkt)
	if err != nil || !ok || a.pkt.Transport != decode.UDP {
		return audio.Packet{}, false
	}
	pl := a.pkt.Payload
	var h rtphdr.Header
	if !h.Parse(pl) {
		return audio.Packet{}, false
	}
	return audio.Packet{
		Time: f.Time, Left: record.Dir(f.Dir) == record.AtoB, Flow: f.Flow,
		SSRC: h.SSRC, PT: h.PayloadType, Seq: h.Seq, TS: h.Timestamp,
		Payload: h.Payload(pl), Codec: a.formats[h.PayloadType],
	}, true
}

// Explained is the streams of a recording its audio is made of (see
// audio.Explained), from the statistics the box kept per stream; nil
// (every stream) when the entry has none.
func Explained(e *record.Entry) map[audio.SSRCDir]bool {
	if len(e.Streams) == 0 {
		return nil
	}
	stats := make([]audio.StreamStat, 0, len(e.Streams))
	for _, s := range e.Streams {
		ssrc, err := strconv.ParseUint(strings.TrimPrefix(s.SSRC, "0x"), 16, 32)
		if err != nil {
			return nil
		}
		stats = append(stats, audio.StreamStat{SSRCDir: audio.SSRCDir{SSRC: uint32(ssrc), Left: s.Dir == record.AtoB.String()}, First: s.First, Last: s.Last, Packets: s.Packets})
	}
	return audio.Explained(stats)
}

// RenderOptions are the renderer's options for a recording of the call e
// describes: its streams (Explained) and its bound (RenderBound).
func RenderOptions(e *record.Entry) audio.Options {
	return audio.Options{Keep: Explained(e), MaxDuration: RenderBound(e)}
}

// RenderBound is the longest a recording of the call e describes renders
// to: from the call's start to the latest of its end, its last media
// packet and its answer plus its duration, plus audio.Margin. It is 0
// when the entry gives no start (the renderer then bounds by the
// packets' capture times alone).
func RenderBound(e *record.Entry) time.Duration {
	if e.Start.IsZero() {
		return 0
	}
	end := e.Start
	if e.End.After(end) {
		end = e.End
	}
	for _, s := range e.Streams {
		if s.Last.After(end) {
			end = s.Last
		}
	}
	from := e.Answer
	if from.IsZero() {
		from = e.Start
	}
	if d := time.Duration(e.Duration * float64(time.Second)); d > 0 && from.Add(d).After(end) {
		end = from.Add(d)
	}
	return end.Sub(e.Start) + audio.Margin
}

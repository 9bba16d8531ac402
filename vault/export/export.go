package export

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"filippo.io/age"
	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/spanvault/spanvault/capture/audio"
	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/decode"
	"github.com/spanvault/spanvault/capture/rtphdr"
	"github.com/spanvault/spanvault/vault"
	"github.com/spanvault/spanvault/vault/sealed"
)

// DamagedError reports a recording whose file fails to authenticate at
// a chunk: the frames before it were exported.
type DamagedError struct {
	ID     string
	Chunk  int64 // 1-based age STREAM chunk (64 KiB of plaintext each)
	Frames int   // frames exported before it
	Err    error
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("export %s: damaged at chunk %d (plaintext bytes from %d): %v; the %d frames before it were exported", e.ID, e.Chunk, (e.Chunk-1)*64<<10, e.Err, e.Frames)
}

func (e *DamagedError) Unwrap() error { return e.Err }

// Frames reads every frame of a recording. truncated reports a recording
// that was interrupted; its frames up to the break are returned.
//
// A finished recording is first checked against the size and SHA-256 its
// index entry holds: a file that is another recording's is refused
// (vault.ErrSwapped); a file that was altered or damaged is read up to the
// first chunk that fails to authenticate, and a *DamagedError names it.
func Frames(v *vault.Vault, id string, ids []age.Identity) (frames []sealed.Frame, truncated bool, err error) {
	e, err := v.Get(id)
	if err != nil {
		return nil, false, err
	}
	interrupted := e.State == vault.StateTruncated
	var integrity error
	if !interrupted {
		if integrity = v.VerifyFile(id); errors.Is(integrity, vault.ErrSwapped) {
			return nil, false, fmt.Errorf("export: %w", integrity)
		}
	}
	r, c, pulled, err := v.OpenRecordingCounted(id, ids)
	if err != nil {
		if interrupted && (errors.Is(err, sealed.ErrTruncated) || errors.Is(err, sealed.ErrFirstChunk)) {
			// Nothing complete reached the disk before the break: the
			// crash came before or while the first chunk was written (a
			// write cut short by SIGKILL leaves part of it).
			return nil, true, nil
		}
		if integrity != nil {
			return nil, false, fmt.Errorf("export: %w (%v)", integrity, err)
		}
		return nil, false, err
	}
	defer c.Close()
	for {
		var f sealed.Frame
		kind, meta, err := r.Next(&f)
		if err == io.EOF {
			if integrity != nil {
				return frames, false, fmt.Errorf("export: %w: the stream reads whole but the file differs from what was sealed", integrity)
			}
			return frames, false, nil
		}
		if err != nil {
			// An interrupted recording ends at its last complete age
			// chunk: the break shows as a truncated stream or as a
			// chunk that does not authenticate.
			if interrupted {
				return frames, true, nil
			}
			return frames, false, &DamagedError{ID: id, Chunk: pulled()/(64<<10) + 1, Frames: len(frames), Err: err}
		}
		switch kind {
		case sealed.RecFrame:
			frames = append(frames, f)
		case sealed.RecMeta:
			// The recording names itself: a file moved under another ID
			// whose index entry was edited to match is still caught.
			var m struct {
				ID string `json:"id"`
			}
			if json.Unmarshal(meta, &m) == nil && m.ID != "" && m.ID != id {
				return nil, false, fmt.Errorf("export: %s: %w: it is recording %s", id, vault.ErrSwapped, m.ID)
			}
		}
	}
}

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
	if calls.Kind(f.Kind) != calls.KindRTP {
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
		Time: f.Time, Left: calls.Dir(f.Dir) == calls.AtoB, Flow: f.Flow,
		SSRC: h.SSRC, PT: h.PayloadType, Seq: h.Seq, TS: h.Timestamp,
		Payload: h.Payload(pl), Codec: a.formats[h.PayloadType],
	}, true
}

// Explained is the streams of a recording its audio is made of (see
// audio.Explained), from the statistics the box kept per stream; nil
// (every stream) when the entry has none.
func Explained(e *vault.Entry) map[audio.SSRCDir]bool {
	if len(e.Streams) == 0 {
		return nil
	}
	stats := make([]audio.StreamStat, 0, len(e.Streams))
	for _, s := range e.Streams {
		ssrc, err := strconv.ParseUint(strings.TrimPrefix(s.SSRC, "0x"), 16, 32)
		if err != nil {
			return nil
		}
		stats = append(stats, audio.StreamStat{SSRCDir: audio.SSRCDir{SSRC: uint32(ssrc), Left: s.Dir == calls.AtoB.String()}, First: s.First, Last: s.Last, Packets: s.Packets})
	}
	return audio.Explained(stats)
}

package audio_test

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/spanvault/spanvault/capture/audio"
)

// g722Payloads extracts the G.722 RTP payloads of the corpus capture in
// sequence order.
func g722Payloads(t *testing.T) []byte {
	t.Helper()
	path := filepath.Join("..", "..", "..", "shared", "corpus", "pcaps", "rtppcap__sip-rtp-g722.pcap")
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("corpus capture not found (%v); G.722 reference check skipped", err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for {
		data, _, err := r.ReadPacketData()
		if err != nil {
			break
		}
		p := gopacket.NewPacket(data, r.LinkType(), gopacket.Default)
		udp, _ := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if udp == nil || len(udp.Payload) < 12 || udp.Payload[0]>>6 != 2 || udp.Payload[1]&0x7f != 9 {
			continue
		}
		out = append(out, udp.Payload[12:]...)
	}
	if len(out) == 0 {
		t.Fatal("no G.722 payload found")
	}
	return out
}

// TestG722AgainstFFmpeg decodes the same G.722 bit stream with our decoder
// and with FFmpeg's (an independent implementation of the ITU algorithm)
// and requires identical samples.
func TestG722AgainstFFmpeg(t *testing.T) {
	ff, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Fatal("ffmpeg not installed: run scripts/install-deps.sh (it is the G.722 reference decoder)")
	}
	payload := g722Payloads(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.g722")
	outPath := filepath.Join(dir, "out.raw")
	if err := os.WriteFile(in, payload, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(ff, "-loglevel", "error", "-f", "g722", "-i", in, "-f", "s16le", "-acodec", "pcm_s16le", outPath)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, out)
	}
	ref, err := os.ReadFile(outPath)
	if err != nil {
		t.Fatal(err)
	}
	got := audio.NewG722Decoder().Decode(nil, payload)
	var gb bytes.Buffer
	binary.Write(&gb, binary.LittleEndian, got)
	if len(ref) != gb.Len() {
		t.Fatalf("length: ffmpeg %d bytes, ours %d", len(ref), gb.Len())
	}
	diff, maxd := 0, 0
	for i := 0; i+1 < len(ref); i += 2 {
		a := int(int16(binary.LittleEndian.Uint16(ref[i:])))
		b := int(got[i/2])
		if a != b {
			diff++
			maxd = max(maxd, abs(a-b))
		}
	}
	if diff != 0 {
		t.Fatalf("%d of %d samples differ from ffmpeg (max difference %d)", diff, len(got), maxd)
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// TestG711AgainstFFmpeg decodes all 256 code words of A-law and u-law with
// ours and with FFmpeg's pcm_alaw / pcm_mulaw decoders.
func TestG711AgainstFFmpeg(t *testing.T) {
	ff, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Fatal("ffmpeg not installed: run scripts/install-deps.sh")
	}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	for _, tc := range []struct {
		format string
		decode func([]int16, []byte) []int16
	}{{"alaw", audio.DecodeALaw}, {"mulaw", audio.DecodeULaw}} {
		t.Run(tc.format, func(t *testing.T) {
			dir := t.TempDir()
			in := filepath.Join(dir, "in.raw")
			out := filepath.Join(dir, "out.raw")
			os.WriteFile(in, all, 0o600)
			cmd := exec.Command(ff, "-loglevel", "error", "-f", tc.format, "-ar", "8000", "-ac", "1", "-i", in, "-f", "s16le", out)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("ffmpeg: %v: %s", err, b)
			}
			ref, _ := os.ReadFile(out)
			got := tc.decode(nil, all)
			if len(ref) != 2*len(got) {
				t.Fatalf("ffmpeg gave %d bytes for 256 samples", len(ref))
			}
			for i, g := range got {
				if want := int16(binary.LittleEndian.Uint16(ref[2*i:])); want != g {
					t.Errorf("code 0x%02x: ours %d, ffmpeg %d", i, g, want)
				}
			}
		})
	}
}

// TestUndecodableCodecs: codecs without a decoder here are reported, never
// rendered as noise.
func TestUndecodableCodecs(t *testing.T) {
	pk := []audio.Packet{{Codec: "opus", PT: 111, Payload: []byte{1, 2, 3}}, {Codec: "G729", PT: 18, Payload: []byte{4, 5}}}
	res, err := audio.Render(pk)
	if err == nil || !strings.Contains(err.Error(), "G729, opus") || !strings.Contains(err.Error(), "pcap") {
		t.Fatalf("err = %v", err)
	}
	if res.Undecodable["opus"] != 1 || len(res.Left) != 0 {
		t.Fatalf("%+v", res)
	}
}

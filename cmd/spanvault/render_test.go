package main

import (
	"bytes"
	"encoding/binary"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/spanvault/spanvault/capture/synth"
)

// TestExportTimestampJumpBounded: a call whose media carries one RTP
// packet 40 million samples on (the finding: 153 MiB of WAV for two
// packets) exports from the box as a WAV no longer than the call plus the
// margin, and the export says so.
func TestExportTimestampJumpBounded(t *testing.T) {
	dir := t.TempDir()
	id, recips := keys(t, dir)
	pcap := filepath.Join(dir, "jump.pcap")
	n := 0
	// The 100th RTP packet to 10.2.0.1 again, 40 million samples on.
	writeCapture(t, pcap, synth.Config{Calls: 1, Duration: 8 * time.Second, Seed: 5}, func(data []byte) []byte {
		p := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
		eth, _ := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
		ip, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		udp, _ := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if eth == nil || ip == nil || udp == nil || udp.DstPort == 5060 || len(udp.Payload) < 12 || udp.Payload[0]>>6 != 2 || !ip.DstIP.Equal(net.IPv4(10, 2, 0, 1)) {
			return nil
		}
		if n++; n != 100 {
			return nil
		}
		pl := bytes.Clone(udp.Payload)
		binary.BigEndian.PutUint16(pl[2:], binary.BigEndian.Uint16(pl[2:])+1)
		binary.BigEndian.PutUint32(pl[4:], binary.BigEndian.Uint32(pl[4:])+40_000_000)
		udp2 := *udp
		udp2.SetNetworkLayerForChecksum(ip)
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true, FixLengths: true}, eth, ip, &udp2, gopacket.Payload(pl)); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	})
	v := filepath.Join(dir, "vault")
	recordPcap(t, v, recips, pcap)
	o, _, _ := runCLI(t, "calls", "-vault", v, "-q")
	ids := strings.Fields(o)
	if len(ids) != 1 {
		t.Fatalf("recordings %v", ids)
	}
	wav := filepath.Join(dir, "x.wav")
	o, e, code := runCLI(t, "export", "-vault", v, "-identity", id, "-call", ids[0], "-o", wav)
	if code != 0 {
		t.Fatalf("export: %s %s", o, e)
	}
	st, err := os.Stat(wav)
	if err != nil {
		t.Fatal(err)
	}
	// Stereo 16-bit at 8 kHz: 32 000 bytes a second; 8 s and the margin.
	if secs := float64(st.Size()-44) / 32000; secs > 8+15 {
		t.Fatalf("an 8 s call exports as %.1f s of WAV (%d bytes)", secs, st.Size())
	}
	if !strings.Contains(o, "RTP timestamp jumps") {
		t.Fatalf("the export does not say the timestamp jumped: %s", o)
	}
}

package access_test

import (
	"bytes"
	"encoding/binary"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/synth"
)

// jumper injects, into the callee's media port of a live call, one copy
// of the caller's RTP packet whose timestamp is 40 million samples on
// (the finding: two such packets rendered to 40 million samples per
// channel, 153 MiB, on every play).
func jumper(t *testing.T) func(tr *calls.Tracker, at time.Time, frame []byte) [][]byte {
	n := 0
	return func(_ *calls.Tracker, at time.Time, frame []byte) [][]byte {
		p := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
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
		return [][]byte{buf.Bytes()}
	}
}

// TestPlaybackTimestampJumpBounded: a call whose media carries one RTP
// timestamp jump plays at the archive (decoded whole, and by position
// from sync points) as a WAV no longer than the call plus the margin,
// and the playback allocates a few MiB (under 32), not 84 to 153.
func TestPlaybackTimestampJumpBounded(t *testing.T) {
	e := newEnv(t, nil)
	start := e.clock.Now().Add(-time.Hour)
	e.addBox("short", synth.Config{Calls: 1, Duration: 8 * time.Second, Start: start}, boxOpt{inject: jumper(t)})
	e.addBox("long", synth.Config{Calls: 1, Duration: 30 * time.Second, Start: start}, boxOpt{inject: jumper(t)})
	c := e.signIn(e.addUser("sup", access.Supervisor, "short", "long"))
	for _, tc := range []struct {
		box     string
		seconds float64
	}{{"short", 8}, {"long", 30}} {
		id := e.recordings(tc.box)[0]
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		resp, wav := c.get("/api/v1/recordings/" + tc.box + "/" + id + "/audio")
		runtime.ReadMemStats(&after)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", tc.box, resp.StatusCode)
		}
		// Stereo 16-bit at 8 kHz: 32 000 bytes a second; the call (and
		// its ringing) plus the 10 s margin at most.
		if secs := float64(len(wav)-44) / 32000; secs > tc.seconds+15 {
			t.Fatalf("%s: a %.0f s call plays as %.1f s (%d bytes)", tc.box, tc.seconds, secs, len(wav))
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 32<<20 {
			t.Fatalf("%s: playing a %.0f s call allocated %.1f MiB", tc.box, tc.seconds, float64(n)/(1<<20))
		}
	}
}

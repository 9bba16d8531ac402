package access_test

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/synth"
)

// spoofer injects, into the callee's media port of a live call, RTP with
// random SSRCs from another host (the finding: 1,600 streams per call,
// the WAV doubled in length and distorted).
func spoofer(t *testing.T) func(tr *calls.Tracker, at time.Time, frame []byte) [][]byte {
	n := 0
	return func(_ *calls.Tracker, at time.Time, frame []byte) [][]byte {
		p := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
		eth, _ := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
		ip, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		udp, _ := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if eth == nil || ip == nil || udp == nil || udp.DstPort == 5060 || len(udp.Payload) < 12 || udp.Payload[0]>>6 != 2 || !ip.DstIP.Equal(net.IPv4(10, 2, 0, 1)) {
			return nil
		}
		n++
		if n%5 != 0 || n < 250 || n > 750 {
			return nil
		}
		pl := bytes.Clone(udp.Payload)
		for i := 12; i < len(pl); i++ {
			pl[i] = byte(i*31 + n) // noise, not the call's audio
		}
		binary.BigEndian.PutUint32(pl[8:], 0xdead0000+uint32(n))
		binary.BigEndian.PutUint32(pl[4:], uint32(n)*7919)
		ip2 := *ip
		ip2.SrcIP = net.IPv4(203, 0, 113, 66)
		udp2 := *udp
		udp2.SrcPort = layers.UDPPort(40000 + n)
		udp2.SetNetworkLayerForChecksum(&ip2)
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true, FixLengths: true}, eth, &ip2, &udp2, gopacket.Payload(pl)); err != nil {
			t.Fatal(err)
		}
		return [][]byte{buf.Bytes()}
	}
}

// TestSpoofedStreamsLeftOut: the same call recorded twice, once with
// spoofed RTP injected into its live ports: the audio the archive plays
// is the same, the spoofed packets are left out (counted on the call's
// record, the first few kept in the pcap).
func TestSpoofedStreamsLeftOut(t *testing.T) {
	e := newEnv(t, nil)
	start := e.clock.Now().Add(-time.Hour)
	cfg := synth.Config{Calls: 1, Duration: 30 * time.Second, Start: start}
	e.addBox("clean", cfg)
	e.addBox("attacked", cfg, boxOpt{inject: spoofer(t)})
	c := e.signIn(e.addUser("sup", access.Supervisor, "clean", "attacked"))
	get := func(box string) []byte {
		id := e.recordings(box)[0]
		resp, b := c.get("/api/v1/recordings/" + box + "/" + id + "/audio")
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", box, resp.StatusCode)
		}
		return b
	}
	clean, attacked := get("clean"), get("attacked")
	if !bytes.Equal(clean, attacked) {
		t.Fatalf("the attacked call plays differently: %d vs %d bytes", len(attacked), len(clean))
	}
	rs, _ := e.a.Index.Records(t.Context(), indexQuery("attacked"))
	// The evidence stays on the call's record: the spoofed packets are
	// counted in its anomaly event (a few of them stored in the pcap), not
	// made streams of the call.
	if len(rs) != 1 || !bytes.Contains([]byte(rs[0].Entry), []byte("from sources the call's signalling does not explain")) || bytes.Contains([]byte(rs[0].Entry), []byte("0xdead")) {
		t.Fatalf("the spoofed packets are not counted on the call's record as evidence (or became its streams): %.600s", rs[0].Entry)
	}
	// The whole-call decode (exports, recordings without sync points)
	// leaves them out too.
	e.svc.DropCache()
	ex := boxWAV(t, e, "attacked", e.recordings("attacked")[0])
	if bytes.Equal(ex, clean) {
		t.Fatal("self-check: mixing every stream in changes nothing")
	}
}

package decode_test

import (
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/spanvault/spanvault/capture/decode"
)

// A flood of IPv4 first fragments whose siblings never arrive (200,000
// over ten minutes of capture time) leaves the decoder's memory bounded:
// incomplete datagrams expire after the fragment timeout.
func TestFragmentFloodBounded(t *testing.T) {
	d := decode.New(decode.DefaultOptions)
	buf := gopacket.NewSerializeBuffer()
	payload := make([]byte, 1400)
	var p decode.Packet
	at := time.Unix(1e9, 0)
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak uint64
	for i := 0; i < 200000; i++ {
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: uint16(i), Flags: layers.IPv4MoreFragments, Protocol: layers.IPProtocolUDP,
			SrcIP: net.IPv4(198, 51, 100, byte(i>>16)), DstIP: net.IPv4(10, 0, 0, 1)}
		gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, gopacket.Payload(payload))
		d.Decode(buf.Bytes(), decode.LinkEthernet, at, &p)
		at = at.Add(3 * time.Millisecond)
		if i%20000 == 0 {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
	}
	grown := int64(peak) - int64(base)
	t.Logf("heap grew by %.1f MiB at most over 200,000 fragments (%.0f MiB of fragment bytes)", float64(grown)/(1<<20), 200000*1434.0/(1<<20))
	if grown > 64<<20 {
		t.Fatalf("heap grew by %d MiB: incomplete fragments are not expired", grown>>20)
	}
}

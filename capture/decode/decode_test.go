package decode_test

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/spanvault/spanvault/capture/decode"
	"github.com/spanvault/spanvault/capture/internal/corpus"
)

var (
	srcIP = net.IP{192, 0, 2, 1}
	dstIP = net.IP{192, 0, 2, 2}
	mac1  = net.HardwareAddr{2, 0, 0, 0, 0, 1}
	mac2  = net.HardwareAddr{2, 0, 0, 0, 0, 2}
	t0    = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
)

func ser(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// ipUDP builds an IPv4/UDP packet (no link layer).
func ipUDP(t testing.TB, id uint16, payload string) []byte {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, Id: id, SrcIP: srcIP, DstIP: dstIP}
	udp := &layers.UDP{SrcPort: 5060, DstPort: 5062}
	udp.SetNetworkLayerForChecksum(ip)
	return ser(t, ip, udp, gopacket.Payload(payload))
}

// eth prepends an Ethernet header (built by hand: gopacket would pad a
// lone Ethernet layer to the 60-byte minimum).
func eth(t testing.TB, et layers.EthernetType, inner []byte) []byte {
	h := append(append(append([]byte(nil), mac2...), mac1...), byte(et>>8), byte(et))
	return append(h, inner...)
}

func vlanTag(id uint16, et layers.EthernetType) []byte {
	b := make([]byte, 4)
	binary.BigEndian.PutUint16(b, id)
	binary.BigEndian.PutUint16(b[2:], uint16(et))
	return b
}

func greHeader(proto uint16, seq bool) []byte {
	if seq {
		b := []byte{0x10, 0, 0, 0, 0, 0, 0, 1}
		binary.BigEndian.PutUint16(b[2:], proto)
		return b
	}
	b := []byte{0, 0, 0, 0}
	binary.BigEndian.PutUint16(b[2:], proto)
	return b
}

// outer wraps a payload in Ethernet/IPv4 with the given protocol.
func outer(t testing.TB, proto layers.IPProtocol, payload []byte) []byte {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: net.IP{198, 51, 100, 1}, DstIP: net.IP{198, 51, 100, 2}}
	return eth(t, layers.EthernetTypeIPv4, ser(t, ip, gopacket.Payload(payload)))
}

func TestLinkLayersAndTunnels(t *testing.T) {
	t.Parallel()
	pl := "SIP/2.0 200 OK\r\n"
	inner := ipUDP(t, 1, pl)
	innerEth := eth(t, layers.EthernetTypeIPv4, inner)
	sll := make([]byte, 16)
	binary.BigEndian.PutUint16(sll[0:], 0) // packet type: to us
	binary.BigEndian.PutUint16(sll[2:], 1) // ARPHRD_ETHER
	binary.BigEndian.PutUint16(sll[4:], 6) // address length
	binary.BigEndian.PutUint16(sll[14:], 0x0800)
	sll2 := make([]byte, 20)
	binary.BigEndian.PutUint16(sll2[0:], 0x0800)
	null := []byte{2, 0, 0, 0}
	vxlanHdr := []byte{0x08, 0, 0, 0, 0, 0, 42, 0}
	vx := &layers.UDP{SrcPort: 40000, DstPort: 4789}
	vxIP := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IP{198, 51, 100, 1}, DstIP: net.IP{198, 51, 100, 2}}
	vx.SetNetworkLayerForChecksum(vxIP)
	ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolUDP, SrcIP: net.ParseIP("2001:db8::1"), DstIP: net.ParseIP("2001:db8::2")}
	udp6 := &layers.UDP{SrcPort: 5060, DstPort: 5062}
	udp6.SetNetworkLayerForChecksum(ip6)
	erspan3 := make([]byte, 12)

	for _, tc := range []struct {
		name  string
		link  decode.LinkType
		frame []byte
		encap uint8
		vlan  [2]uint16
		v6    bool
	}{
		{"ethernet", decode.LinkEthernet, innerEth, 0, [2]uint16{}, false},
		{"802.1Q", decode.LinkEthernet, eth(t, layers.EthernetTypeDot1Q, append(vlanTag(100, layers.EthernetTypeIPv4), inner...)), decode.EncapVLAN, [2]uint16{100, 0}, false},
		{"QinQ", decode.LinkEthernet, eth(t, layers.EthernetTypeQinQ, append(append(vlanTag(10, layers.EthernetTypeDot1Q), vlanTag(20, layers.EthernetTypeIPv4)...), inner...)), decode.EncapVLAN, [2]uint16{10, 20}, false},
		{"linux sll", decode.LinkLinuxSLL, append(sll, inner...), 0, [2]uint16{}, false},
		{"linux sll2", decode.LinkLinuxSLL2, append(sll2, inner...), 0, [2]uint16{}, false},
		{"raw ip", decode.LinkRaw, inner, 0, [2]uint16{}, false},
		{"bsd loopback", decode.LinkNull, append(null, inner...), 0, [2]uint16{}, false},
		{"ipv6", decode.LinkEthernet, eth(t, layers.EthernetTypeIPv6, ser(t, ip6, udp6, gopacket.Payload(pl))), 0, [2]uint16{}, true},
		{"gre erspan ii", decode.LinkEthernet, outer(t, layers.IPProtocolGRE, append(append(greHeader(0x88BE, true), make([]byte, 8)...), innerEth...)), decode.EncapGRE | decode.EncapERSPAN, [2]uint16{}, false},
		{"gre erspan iii", decode.LinkEthernet, outer(t, layers.IPProtocolGRE, append(append(greHeader(0x22EB, true), erspan3...), innerEth...)), decode.EncapGRE | decode.EncapERSPAN, [2]uint16{}, false},
		{"gre teb", decode.LinkEthernet, outer(t, layers.IPProtocolGRE, append(greHeader(0x6558, false), innerEth...)), decode.EncapGRE, [2]uint16{}, false},
		{"vxlan", decode.LinkEthernet, eth(t, layers.EthernetTypeIPv4, ser(t, vxIP, vx, gopacket.Payload(append(vxlanHdr, innerEth...)))), decode.EncapVXLAN, [2]uint16{}, false},
		{"ip in ip", decode.LinkEthernet, outer(t, layers.IPProtocolIPv4, inner), decode.EncapIPinIP, [2]uint16{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := decode.New(decode.DefaultOptions)
			var p decode.Packet
			ok, err := d.Decode(tc.frame, tc.link, t0, &p)
			if err != nil || !ok {
				t.Fatalf("ok=%v err=%v", ok, err)
			}
			if string(p.Payload) != pl || p.Transport != decode.UDP || p.Src.Port() != 5060 || p.Dst.Port() != 5062 {
				t.Fatalf("payload %q transport %d %v->%v", p.Payload, p.Transport, p.Src, p.Dst)
			}
			if !tc.v6 && (p.Src.Addr() != netip.MustParseAddr("192.0.2.1") || p.Dst.Addr() != netip.MustParseAddr("192.0.2.2")) {
				t.Fatalf("addresses %v %v (outer instead of inner?)", p.Src, p.Dst)
			}
			if p.Encap != tc.encap || p.VLAN != tc.vlan {
				t.Fatalf("encap %b vlan %v, want %b %v", p.Encap, p.VLAN, tc.encap, tc.vlan)
			}
			if string(tc.frame[p.HeaderLen:]) != pl {
				t.Fatalf("HeaderLen %d does not point at the payload", p.HeaderLen)
			}
		})
	}
}

func TestIPv4Fragments(t *testing.T) {
	t.Parallel()
	payload := make([]byte, 3000)
	for i := range payload {
		payload[i] = byte(i)
	}
	whole := ipUDP(t, 77, string(payload)) // IPv4 header + UDP + 3000 bytes
	udpPart := whole[20:]
	var frames [][]byte
	for off := 0; off < len(udpPart); off += 1480 {
		end := min(off+1480, len(udpPart))
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, Id: 77, SrcIP: srcIP, DstIP: dstIP, FragOffset: uint16(off / 8)}
		if end < len(udpPart) {
			ip.Flags = layers.IPv4MoreFragments
		}
		frames = append(frames, eth(t, layers.EthernetTypeIPv4, ser(t, ip, gopacket.Payload(udpPart[off:end]))))
	}
	d := decode.New(decode.DefaultOptions)
	var p decode.Packet
	for i, f := range frames {
		ok, err := d.Decode(f, decode.LinkEthernet, t0.Add(time.Duration(i)*time.Millisecond), &p)
		if err != nil {
			t.Fatal(err)
		}
		if ok != (i == len(frames)-1) {
			t.Fatalf("fragment %d: ok=%v", i, ok)
		}
	}
	if string(p.Payload) != string(payload) {
		t.Fatalf("reassembled %d bytes", len(p.Payload))
	}
	if len(p.Fragments) != len(frames)-1 {
		t.Fatalf("kept %d earlier fragments, want %d", len(p.Fragments), len(frames)-1)
	}
	for i, f := range p.Fragments {
		if string(f.Frame) != string(frames[i]) {
			t.Fatalf("fragment %d not kept byte for byte", i)
		}
	}
}

func TestMirrorDuplicates(t *testing.T) {
	t.Parallel()
	f1 := eth(t, layers.EthernetTypeIPv4, ipUDP(t, 5, "\x80\x08payload"))
	f2 := eth(t, layers.EthernetTypeIPv4, ipUDP(t, 6, "\x80\x08payload")) // same RTP, new IP ID: a resend
	// The copy seen through a router: TTL and checksum differ.
	routed := append([]byte(nil), f1...)
	routed[14+8]--
	d := decode.New(decode.DefaultOptions)
	var p decode.Packet
	for i, tc := range []struct {
		frame []byte
		at    time.Duration
		want  bool
	}{
		{f1, 0, true},
		{f1, time.Millisecond, false}, // same packet on the second mirrored port
		{routed, 2 * time.Millisecond, false},
		{f2, 3 * time.Millisecond, true},  // a sender's repeat is not a mirror copy
		{f1, 50 * time.Millisecond, true}, // outside the window
	} {
		ok, err := d.Decode(tc.frame, decode.LinkEthernet, t0.Add(tc.at), &p)
		if err != nil || ok != tc.want {
			t.Fatalf("case %d: ok=%v err=%v, want %v", i, ok, err, tc.want)
		}
	}
	if d.Stats.Duplicates != 2 {
		t.Fatalf("duplicates = %d", d.Stats.Duplicates)
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	good := eth(t, layers.EthernetTypeIPv4, ipUDP(t, 1, "x"))
	d := decode.New(decode.DefaultOptions)
	var p decode.Packet
	for n := 0; n < len(good); n++ {
		d.Decode(good[:n], decode.LinkEthernet, t0, &p) // must not panic
	}
	if _, err := d.Decode(good, 9999, t0, &p); err == nil {
		t.Fatal("unknown link type accepted")
	}
	if d.Stats.Malformed == 0 {
		t.Fatal("truncated frames not counted as malformed")
	}
}

// TestDecodeAllocs: the per-packet path allocates nothing.
func TestDecodeAllocs(t *testing.T) {
	f := eth(t, layers.EthernetTypeDot1Q, append(vlanTag(7, layers.EthernetTypeIPv4), ipUDP(t, 1, "\x80\x08rtp payload")...))
	d := decode.New(decode.DefaultOptions)
	var p decode.Packet
	at := t0
	allocs := testing.AllocsPerRun(1000, func() {
		at = at.Add(20 * time.Millisecond)
		d.Decode(f, decode.LinkEthernet, at, &p)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per decoded packet", allocs)
	}
}

func FuzzDecode(f *testing.F) {
	for i, fr := range corpus.Frames() {
		if i%7 == 0 { // a sample of every capture keeps the seed corpus small
			f.Add(fr.Data, uint16(fr.Link))
		}
	}
	f.Add([]byte{0, 1, 2}, uint16(decode.LinkEthernet))
	f.Fuzz(func(t *testing.T, b []byte, link uint16) {
		d := decode.New(decode.DefaultOptions)
		var p decode.Packet
		ok, err := d.Decode(b, decode.LinkType(link), t0, &p)
		if ok && err == nil {
			if p.HeaderLen < 0 || p.HeaderLen > len(b) {
				t.Fatalf("HeaderLen %d of %d", p.HeaderLen, len(b))
			}
		}
	})
}

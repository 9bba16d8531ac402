package decode

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"net/netip"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/ip4defrag"
	"github.com/google/gopacket/layers"

	"github.com/spanvault/spanvault/record"
)

// LinkType is a pcap link-layer header type (LINKTYPE_*). gopacket v1.1.19
// keeps link types in a byte, which cannot hold LINKTYPE_LINUX_SLL2 (276).
// It is record.LinkType: a recorded frame stores it.
type LinkType = record.LinkType

// The link types a SPAN feed or a capture file may carry.
const (
	LinkNull      LinkType = 0
	LinkEthernet  LinkType = 1
	LinkRaw       LinkType = 101
	LinkLoop      LinkType = 108
	LinkLinuxSLL  LinkType = 113
	LinkIPv4      LinkType = 228
	LinkIPv6      LinkType = 229
	LinkLinuxSLL2 LinkType = 276
)

// Transport protocol numbers as carried in the IP header.
const (
	TCP  uint8 = 6
	UDP  uint8 = 17
	SCTP uint8 = 132
)

// Encapsulations seen on the way to the innermost IP packet (bit set).
const (
	EncapVLAN uint8 = 1 << iota
	EncapGRE
	EncapERSPAN
	EncapVXLAN
	EncapIPinIP
)

// ErrTooDeep is returned for frames nested deeper than any real mirror feed.
var ErrTooDeep = errors.New("decode: encapsulation too deep")

// Fragment is one captured frame that carried part of a fragmented IP
// datagram. The recording keeps every fragment, not only the reassembled
// payload, so that the evidence stays byte for byte what was on the wire.
type Fragment struct {
	Time  time.Time
	Frame []byte // a copy owned by the Packet's consumer until the next Decode
}

// Packet is one transport-level packet. All slices point either into the
// frame passed to Decode or into buffers owned by the Decoder, and are valid
// only until the next call to Decode.
type Packet struct {
	Time      time.Time
	Frame     []byte // the frame exactly as captured
	LinkType  LinkType
	Src, Dst  netip.AddrPort
	Transport uint8  // TCP, UDP, SCTP, or another IP protocol number
	Payload   []byte // transport payload
	// HeaderLen is the number of frame bytes before Payload; for a
	// reassembled datagram it is that of the last fragment's frame.
	HeaderLen int
	TCP       *layers.TCP // the TCP header when Transport == TCP
	VLAN      [2]uint16   // outer and inner VLAN ID, 0 when absent
	Encap     uint8       // EncapVLAN | EncapGRE | ...
	// Fragments holds the earlier frames of a reassembled datagram; Frame
	// is the one that completed it. Empty for unfragmented packets.
	Fragments []Fragment
}

// Stats counts what the decoder saw. Fields only grow.
type Stats struct {
	Frames      uint64 // frames passed to Decode
	Bytes       uint64
	IP          uint64 // frames with an IP packet inside
	NonIP       uint64 // ARP, LLDP, STP and other frames without IP
	Malformed   uint64 // frames that failed to decode
	Duplicates  uint64 // second copies dropped by the duplicate window
	Fragments   uint64 // IP fragments seen
	Reassembled uint64 // datagrams completed from fragments
	// FragmentsShed: incomplete datagrams dropped to stay within
	// MaxFragmentBytes (or the count bound): attack state, never a
	// datagram that completed.
	FragmentsShed uint64
}

// FragmentsShed counts incomplete datagrams dropped (Stats.FragmentsShed).
func (d *Decoder) FragmentsShed() uint64 { return d.frag.shed }

// FragmentsHeld is the bytes held for datagrams not yet whole.
func (d *Decoder) FragmentsHeld() int { return d.frag.held }

// Decoder decodes frames. The zero value is not usable; call New.
type Decoder struct {
	eth    layers.Ethernet
	dot1q  layers.Dot1Q
	lo     layers.Loopback
	ip4    layers.IPv4
	ip6    layers.IPv6
	udp    layers.UDP
	tcp    layers.TCP
	gre    layers.GRE
	vxlan  layers.VXLAN
	defrag *ip4defrag.IPv4Defragmenter
	// lastDefragSweep is when incomplete IPv4 datagrams were last expired.
	lastDefragSweep time.Time
	frag            fragStore
	dedup           dedup
	// Stats is updated by Decode.
	Stats Stats
}

// Options tune a Decoder.
type Options struct {
	// DuplicateWindow is how close in time two identical IP packets must be
	// to count as one packet seen on two mirrored ports. Zero disables the
	// check. Retransmissions by a sender (SIP over UDP, RFC 4733 end events)
	// come tens of milliseconds apart and differ in their IP ID, so they are
	// not mistaken for mirror copies.
	DuplicateWindow time.Duration
	// MaxFragmentBytes bounds the bytes held for datagrams whose fragments
	// have not all arrived (0: 32 MiB); past it the oldest are shed.
	MaxFragmentBytes int
}

// DefaultOptions are the options the recorder uses.
var DefaultOptions = Options{DuplicateWindow: 5 * time.Millisecond}

// New returns a Decoder.
func New(opt Options) *Decoder {
	d := &Decoder{defrag: ip4defrag.NewIPv4Defragmenter()}
	d.dedup.window = opt.DuplicateWindow
	d.dedup.seed = maphash.MakeSeed()
	d.dedup.key = maphash.Bytes(d.dedup.seed, []byte("dedup key"))
	if opt.MaxFragmentBytes <= 0 {
		opt.MaxFragmentBytes = 32 << 20
	}
	d.frag.init(opt.MaxFragmentBytes)
	return d
}

// Decode decodes one frame into p. It reports ok=false with a nil error for
// frames that carry nothing for the recorder (not IP, or a fragment still
// waiting for the rest of its datagram, or a mirror duplicate).
func (d *Decoder) Decode(frame []byte, lt LinkType, ts time.Time, p *Packet) (ok bool, err error) {
	d.Stats.Frames++
	d.Stats.Bytes += uint64(len(frame))
	*p = Packet{Time: ts, Frame: frame, LinkType: lt, Fragments: p.Fragments[:0]}
	// gopacket's layer decoders have panicked on malformed input (LinuxSLL,
	// GRE: found by FuzzDecode and guarded above); a panic from one we have
	// not met yet must cost one frame, not the recorder.
	defer func() {
		if r := recover(); r != nil {
			d.Stats.Malformed++
			ok, err = false, fmt.Errorf("decode: malformed frame: %v", r)
		}
	}()
	ok, err = d.decode(frame, lt, ts, p)
	if err != nil {
		d.Stats.Malformed++
		return false, err
	}
	return ok, nil
}

type nextKind uint8

const (
	kEthernet nextKind = iota
	kIPv4
	kIPv6
	kSLL
	kSLL2
	kLoopback
	kNone
)

func (d *Decoder) decode(frame []byte, lt LinkType, ts time.Time, p *Packet) (bool, error) {
	var kind nextKind
	switch lt {
	case LinkEthernet:
		kind = kEthernet
	case LinkLinuxSLL:
		kind = kSLL
	case LinkLinuxSLL2:
		kind = kSLL2
	case LinkNull, LinkLoop:
		kind = kLoopback
	case LinkRaw, 12, 14, LinkIPv4:
		kind = ipVersion(frame)
	case LinkIPv6:
		kind = kIPv6
	default:
		return false, fmt.Errorf("decode: unsupported link type %d", lt)
	}
	data := frame
	for depth := 0; depth < 8; depth++ {
		switch kind {
		case kEthernet:
			if err := d.eth.DecodeFromBytes(data, gopacket.NilDecodeFeedback); err != nil {
				return false, fmt.Errorf("decode: ethernet: %w", err)
			}
			data = d.eth.Payload
			kind = d.etherType(d.eth.EthernetType, &data, p)
		case kSLL:
			// SLL: packet type(2) ARPHRD(2) address length(2) address(8)
			// protocol(2). Parsed here: gopacket's LinuxSLL panics on a
			// short frame with a large address length (found by FuzzDecode).
			if len(data) < 16 {
				return false, errors.New("decode: linux sll: short header")
			}
			et := layers.EthernetType(binary.BigEndian.Uint16(data[14:16]))
			data = data[16:]
			kind = d.etherType(et, &data, p)
		case kSLL2:
			// SLL2: protocol(2) reserved(2) ifindex(4) arphrd(2) pkttype(1) addrlen(1) addr(8).
			if len(data) < 20 {
				return false, errors.New("decode: linux sll2: short header")
			}
			et := layers.EthernetType(binary.BigEndian.Uint16(data[0:2]))
			data = data[20:]
			kind = d.etherType(et, &data, p)
		case kLoopback:
			if err := d.lo.DecodeFromBytes(data, gopacket.NilDecodeFeedback); err != nil {
				return false, fmt.Errorf("decode: loopback: %w", err)
			}
			data = d.lo.Payload
			switch d.lo.Family {
			case layers.ProtocolFamilyIPv4:
				kind = kIPv4
			case layers.ProtocolFamilyIPv6BSD, layers.ProtocolFamilyIPv6FreeBSD, layers.ProtocolFamilyIPv6Darwin, layers.ProtocolFamilyIPv6Linux:
				kind = kIPv6
			default:
				kind = kNone
			}
		case kIPv4, kIPv6:
			var next nextKind
			var done bool
			var err error
			if kind == kIPv4 {
				next, done, err = d.ipv4(&data, ts, p)
			} else {
				next, done, err = d.ipv6(&data, ts, p)
			}
			if err == errSkip {
				return false, nil
			}
			if err != nil {
				return false, err
			}
			if done {
				return true, nil
			}
			kind = next
		case kNone:
			d.Stats.NonIP++
			return false, nil
		}
	}
	return false, ErrTooDeep
}

func ipVersion(b []byte) nextKind {
	if len(b) == 0 {
		return kNone
	}
	switch b[0] >> 4 {
	case 4:
		return kIPv4
	case 6:
		return kIPv6
	}
	return kNone
}

// etherType resolves VLAN tags in place and says what follows.
func (d *Decoder) etherType(et layers.EthernetType, data *[]byte, p *Packet) nextKind {
	for i := 0; i < 4; i++ {
		switch et {
		case layers.EthernetTypeIPv4:
			return kIPv4
		case layers.EthernetTypeIPv6:
			return kIPv6
		case layers.EthernetTypeDot1Q, layers.EthernetTypeQinQ, 0x9100:
			if err := d.dot1q.DecodeFromBytes(*data, gopacket.NilDecodeFeedback); err != nil {
				return kNone
			}
			p.Encap |= EncapVLAN
			if p.VLAN[0] == 0 {
				p.VLAN[0] = d.dot1q.VLANIdentifier
			} else if p.VLAN[1] == 0 {
				p.VLAN[1] = d.dot1q.VLANIdentifier
			}
			*data = d.dot1q.Payload
			et = d.dot1q.Type
		default:
			return kNone
		}
	}
	return kNone
}

// ipv4 decodes an IPv4 header and what it carries. done reports that p is
// complete (or that the frame is to be skipped when err is nil and the
// return value of decode is false).
func (d *Decoder) ipv4(data *[]byte, ts time.Time, p *Packet) (nextKind, bool, error) {
	raw := *data
	if err := d.ip4.DecodeFromBytes(raw, gopacket.NilDecodeFeedback); err != nil {
		return kNone, false, fmt.Errorf("decode: ipv4: %w", err)
	}
	d.Stats.IP++
	ip := &d.ip4
	if ip.Flags&layers.IPv4MoreFragments != 0 || ip.FragOffset != 0 {
		d.Stats.Fragments++
		if d.dedup.seen(raw[:min(int(ip.Length), len(raw))], 4, p.Time) {
			d.Stats.Duplicates++
			return kNone, true, errSkip
		}
		// ip4defrag keeps the layer it is given until the datagram is
		// complete: hand it a copy that owns its payload, not the
		// decoder's reused struct pointing into a reused frame buffer.
		frag := *ip
		frag.Payload = append([]byte(nil), ip.Payload...)
		frag.Contents = nil
		frag.Options = nil
		// ip4defrag forgets incomplete datagrams only when told to: once
		// a second of capture time, those older than the fragment
		// timeout go (a flood of never-completed fragments once grew
		// without bound).
		if ts.Sub(d.lastDefragSweep) >= time.Second {
			d.lastDefragSweep = ts
			d.defrag.DiscardOlderThan(ts.Add(-fragTimeout))
			d.frag.expire(ts)
		}
		out, err := d.defrag.DefragIPv4WithTimestamp(&frag, ts)
		if err != nil {
			return kNone, false, fmt.Errorf("decode: ipv4 fragment: %w", err)
		}
		key := fragKey{src: addr4(ip.SrcIP), dst: addr4(ip.DstIP), id: uint32(ip.Id), proto: uint8(ip.Protocol)}
		if out == nil {
			d.frag.keepFrame(key, p.Time, p.Frame)
			d.Stats.FragmentsShed = d.frag.shed
			if !d.frag.cutoff.IsZero() {
				// The store shed datagrams to stay within its budget:
				// ip4defrag forgets the same ones (and older).
				d.defrag.DiscardOlderThan(d.frag.cutoff.Add(time.Nanosecond))
				d.frag.cutoff = time.Time{}
			}
			return kNone, true, errSkip
		}
		d.Stats.Reassembled++
		p.Fragments = d.frag.take(key, p.Fragments)
		p.Src = netip.AddrPortFrom(addr4(out.SrcIP), 0)
		p.Dst = netip.AddrPortFrom(addr4(out.DstIP), 0)
		return d.transport(uint8(out.Protocol), out.Payload, p, true, data)
	}
	end := min(int(ip.Length), len(raw))
	if end < int(ip.IHL)*4 {
		end = len(raw)
	}
	if d.dedup.seen(raw[:end], 4, p.Time) {
		d.Stats.Duplicates++
		return kNone, true, errSkip
	}
	p.Src = netip.AddrPortFrom(addr4(ip.SrcIP), 0)
	p.Dst = netip.AddrPortFrom(addr4(ip.DstIP), 0)
	switch ip.Protocol {
	case layers.IPProtocolIPv4:
		p.Encap |= EncapIPinIP
		*data = ip.Payload
		return kIPv4, false, nil
	case layers.IPProtocolIPv6:
		p.Encap |= EncapIPinIP
		*data = ip.Payload
		return kIPv6, false, nil
	}
	return d.transport(uint8(ip.Protocol), ip.Payload, p, false, data)
}

// errSkip ends decoding of a frame that is fine but carries nothing now.
var errSkip = errors.New("skip")

func (d *Decoder) ipv6(data *[]byte, ts time.Time, p *Packet) (nextKind, bool, error) {
	raw := *data
	if err := d.ip6.DecodeFromBytes(raw, gopacket.NilDecodeFeedback); err != nil {
		return kNone, false, fmt.Errorf("decode: ipv6: %w", err)
	}
	d.Stats.IP++
	ip := &d.ip6
	end := min(40+int(ip.Length), len(raw))
	if d.dedup.seen(raw[:end], 6, p.Time) {
		d.Stats.Duplicates++
		return kNone, true, errSkip
	}
	src, _ := netip.AddrFromSlice(ip.SrcIP)
	dst, _ := netip.AddrFromSlice(ip.DstIP)
	p.Src = netip.AddrPortFrom(src, 0)
	p.Dst = netip.AddrPortFrom(dst, 0)
	next := ip.NextHeader
	payload := ip.Payload
	if ip.HopByHop != nil {
		// gopacket already consumed the hop-by-hop header into ip.Payload.
		next = ip.HopByHop.NextHeader
	}
	// Walk extension headers; gopacket leaves them in Payload.
	for i := 0; i < 8; i++ {
		switch next {
		case layers.IPProtocolIPv6HopByHop, layers.IPProtocolIPv6Routing, layers.IPProtocolIPv6Destination:
			if len(payload) < 8 {
				return kNone, false, errors.New("decode: ipv6: short extension header")
			}
			l := (int(payload[1]) + 1) * 8
			if l > len(payload) {
				return kNone, false, errors.New("decode: ipv6: extension header overruns packet")
			}
			next = layers.IPProtocol(payload[0])
			payload = payload[l:]
		case layers.IPProtocolIPv6Fragment:
			if len(payload) < 8 {
				return kNone, false, errors.New("decode: ipv6: short fragment header")
			}
			d.Stats.Fragments++
			proto := payload[0]
			offset := int(binary.BigEndian.Uint16(payload[2:4]) &^ 7)
			more := payload[3]&1 == 1
			id := binary.BigEndian.Uint32(payload[4:8])
			key := fragKey{src: src, dst: dst, id: id, proto: proto}
			whole, complete, err := d.frag.add(key, offset, more, payload[8:], ts, p.Frame)
			d.Stats.FragmentsShed = d.frag.shed
			if err != nil {
				return kNone, false, fmt.Errorf("decode: ipv6 fragment: %w", err)
			}
			if !complete {
				return kNone, true, errSkip
			}
			d.Stats.Reassembled++
			p.Fragments = d.frag.take(key, p.Fragments)
			return d.transport(proto, whole, p, true, data)
		case layers.IPProtocolIPv4:
			p.Encap |= EncapIPinIP
			*data = payload
			return kIPv4, false, nil
		case layers.IPProtocolIPv6:
			p.Encap |= EncapIPinIP
			*data = payload
			return kIPv6, false, nil
		default:
			return d.transport(uint8(next), payload, p, false, data)
		}
	}
	return kNone, false, ErrTooDeep
}

// transport decodes UDP or TCP, or hands a tunnel's inner frame back to the
// decode loop through *data and the returned kind.
func (d *Decoder) transport(proto uint8, payload []byte, p *Packet, reassembled bool, data *[]byte) (nextKind, bool, error) {
	p.Transport = proto
	switch proto {
	case UDP:
		if err := d.udp.DecodeFromBytes(payload, gopacket.NilDecodeFeedback); err != nil {
			return kNone, false, fmt.Errorf("decode: udp: %w", err)
		}
		pl := d.udp.Payload
		if l := int(d.udp.Length); l >= 8 && l-8 < len(pl) {
			pl = pl[:l-8] // Ethernet padding is not payload
		}
		p.Src = netip.AddrPortFrom(p.Src.Addr(), uint16(d.udp.SrcPort))
		p.Dst = netip.AddrPortFrom(p.Dst.Addr(), uint16(d.udp.DstPort))
		if d.udp.DstPort == 4789 && len(pl) >= 8 && pl[0]&0x08 != 0 {
			if err := d.vxlan.DecodeFromBytes(pl, gopacket.NilDecodeFeedback); err == nil {
				p.Encap |= EncapVXLAN
				return d.inner(kEthernet, d.vxlan.Payload, p, data)
			}
		}
		p.Payload = pl
	case TCP:
		if err := d.tcp.DecodeFromBytes(payload, gopacket.NilDecodeFeedback); err != nil {
			return kNone, false, fmt.Errorf("decode: tcp: %w", err)
		}
		p.Src = netip.AddrPortFrom(p.Src.Addr(), uint16(d.tcp.SrcPort))
		p.Dst = netip.AddrPortFrom(p.Dst.Addr(), uint16(d.tcp.DstPort))
		p.TCP = &d.tcp
		p.Payload = d.tcp.Payload
	case 47: // GRE
		if len(payload) < 4 { // gopacket's GRE indexes an empty slice
			return kNone, false, errors.New("decode: gre: short header")
		}
		if err := d.gre.DecodeFromBytes(payload, gopacket.NilDecodeFeedback); err != nil {
			return kNone, false, fmt.Errorf("decode: gre: %w", err)
		}
		p.Encap |= EncapGRE
		inner := d.gre.Payload
		switch d.gre.Protocol {
		case 0x88BE: // ERSPAN type II has a sequence number; type I has no header.
			p.Encap |= EncapERSPAN
			if d.gre.SeqPresent {
				if len(inner) < 8 {
					return kNone, false, errors.New("decode: erspan ii: short header")
				}
				inner = inner[8:]
			}
			return d.inner(kEthernet, inner, p, data)
		case 0x22EB: // ERSPAN type III: 12 bytes plus an optional 8-byte platform sub-header.
			p.Encap |= EncapERSPAN
			if len(inner) < 12 {
				return kNone, false, errors.New("decode: erspan iii: short header")
			}
			skip := 12
			if inner[11]&0x01 != 0 {
				skip += 8
			}
			if len(inner) < skip {
				return kNone, false, errors.New("decode: erspan iii: short sub-header")
			}
			return d.inner(kEthernet, inner[skip:], p, data)
		case layers.EthernetTypeTransparentEthernetBridging:
			return d.inner(kEthernet, inner, p, data)
		case layers.EthernetTypeIPv4:
			return d.inner(kIPv4, inner, p, data)
		case layers.EthernetTypeIPv6:
			return d.inner(kIPv6, inner, p, data)
		}
		return kNone, true, errSkip
	default:
		p.Payload = payload
	}
	if !reassembled {
		p.HeaderLen = len(p.Frame) - len(p.Payload)
		if p.HeaderLen < 0 || p.HeaderLen > len(p.Frame) {
			p.HeaderLen = 0
		}
	} else {
		p.HeaderLen = 0
	}
	return kNone, true, nil
}

// inner hands an encapsulated frame back to the decode loop, whose depth
// bound stops tunnels nested without end.
func (d *Decoder) inner(kind nextKind, inner []byte, p *Packet, data *[]byte) (nextKind, bool, error) {
	p.Src, p.Dst = netip.AddrPort{}, netip.AddrPort{}
	p.Transport = 0
	*data = inner
	return kind, false, nil
}

func addr4(b []byte) netip.Addr {
	if len(b) != 4 {
		return netip.Addr{}
	}
	return netip.AddrFrom4([4]byte(b))
}

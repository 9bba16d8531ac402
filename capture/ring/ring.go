//go:build linux

package ring

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/spanvault/spanvault/capture/decode"
)

// Config configures a ring.
type Config struct {
	Interface string
	// BlockSize (a power of two, at least the page size) and Blocks size
	// the ring: BlockSize*Blocks bytes of kernel memory.
	BlockSize int
	Blocks    int
	// RetireTimeout hands a partly filled block to user space after this
	// long, bounding latency on a quiet link.
	RetireTimeout time.Duration
	// Promiscuous puts the interface in promiscuous mode (a mirror port
	// delivers frames addressed to other hosts).
	Promiscuous bool
	// FanoutGroup, when non-zero, joins a PACKET_FANOUT group by flow hash.
	FanoutGroup uint16
	// Filter replaces the default BPF program (nil: IP transport only).
	Filter []bpf.Instruction
	// PollTimeout bounds how long Next waits before returning ErrTimeout,
	// so that the caller can expire idle calls.
	PollTimeout time.Duration
}

// ErrTimeout is returned by Next when no packet arrived within the poll
// timeout.
var ErrTimeout = errors.New("ring: no packet within the poll timeout")

// ErrClosed is returned by Next after Close.
var ErrClosed = errors.New("ring: closed")

// Stats are the kernel's counters for the socket, accumulated.
type Stats struct {
	Packets      uint64 // seen by the socket (passed the filter)
	Drops        uint64 // dropped because the ring was full
	Freezes      uint64 // times the queue was frozen
	VLANRestored uint64
	Outgoing     uint64 // frames sent by this host, skipped
}

// Ring is one capture socket with its mapped ring.
type Ring struct {
	fd      int
	ring    []byte
	cfg     Config
	ifindex int
	block   int
	inBlock bool
	left    uint32
	off     int
	buf     []byte
	closed  atomic.Bool
	stats   Stats
	pollTO  int
}

const (
	tpStatusKernel      = 0
	tpStatusUser        = 1
	tpStatusVLANValid   = 0x10
	tpStatusVLANTPIDVal = 0x40
	sizeofTpacket3Hdr   = 48
	// offsets inside struct tpacket_block_desc
	offBlockStatus = 8
	offNumPkts     = 12
	offFirstPkt    = 16
)

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// DefaultFilter accepts IPv4 carrying UDP, TCP, SCTP, GRE or IP-in-IP,
// all IPv6 (its extension headers make a short filter unreliable), and
// frames that still carry a VLAN tag (QinQ inner tags). Everything else
// (ARP, STP, LLDP, ICMP) stays in the kernel.
func DefaultFilter() []bpf.Instruction {
	return []bpf.Instruction{
		bpf.LoadAbsolute{Off: 12, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x8100, SkipTrue: 13},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x88a8, SkipTrue: 12},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x86dd, SkipTrue: 11},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x0800, SkipFalse: 9},
		bpf.LoadAbsolute{Off: 23, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 17, SkipTrue: 8},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 6, SkipTrue: 7},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 132, SkipTrue: 6},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 47, SkipTrue: 5},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 4, SkipTrue: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 41, SkipTrue: 3},
		bpf.RetConstant{Val: 0},
		bpf.RetConstant{Val: 0},
		bpf.RetConstant{Val: 0},
		bpf.RetConstant{Val: 262144},
	}
}

// Open creates the socket, the ring and the filter, and binds to the
// interface.
func Open(cfg Config) (*Ring, error) {
	if cfg.BlockSize <= 0 {
		cfg.BlockSize = 256 << 10
	}
	if cfg.Blocks <= 0 {
		cfg.Blocks = 256
	}
	if cfg.RetireTimeout <= 0 {
		cfg.RetireTimeout = 50 * time.Millisecond
	}
	if cfg.PollTimeout <= 0 {
		cfg.PollTimeout = 200 * time.Millisecond
	}
	if cfg.BlockSize&(cfg.BlockSize-1) != 0 || cfg.BlockSize < os.Getpagesize() {
		return nil, fmt.Errorf("ring: block size %d is not a power of two of at least a page", cfg.BlockSize)
	}
	ifi, err := net.InterfaceByName(cfg.Interface)
	if err != nil {
		return nil, fmt.Errorf("ring: interface %q: %w", cfg.Interface, err)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		return nil, fmt.Errorf("ring: socket: %w (needs CAP_NET_RAW)", err)
	}
	r := &Ring{fd: fd, cfg: cfg, ifindex: ifi.Index, buf: make([]byte, 0, 1<<16), pollTO: int(cfg.PollTimeout / time.Millisecond)}
	fail := func(what string, err error) (*Ring, error) {
		r.Close()
		return nil, fmt.Errorf("ring: %s on %s: %w", what, cfg.Interface, err)
	}
	// The filter goes on before the ring and the bind, so that nothing
	// unfiltered is ever queued.
	filter := cfg.Filter
	if filter == nil {
		filter = DefaultFilter()
	}
	raw, err := bpf.Assemble(filter)
	if err != nil {
		return fail("assemble filter", err)
	}
	prog := make([]unix.SockFilter, len(raw))
	for i, ins := range raw {
		prog[i] = unix.SockFilter{Code: ins.Op, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
	}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}); err != nil {
		return fail("attach filter", err)
	}
	// The box's own packets are not the mirror's (and on loopback every
	// packet would take ring space twice): the kernel leaves them out
	// (Linux 4.20; Next still skips them where the option is missing).
	_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1)
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return fail("TPACKET_V3", err)
	}
	req := unix.TpacketReq3{
		Block_size:     uint32(cfg.BlockSize),
		Block_nr:       uint32(cfg.Blocks),
		Frame_size:     uint32(cfg.BlockSize), // frames are variable-size in V3
		Frame_nr:       uint32(cfg.Blocks),
		Retire_blk_tov: uint32(cfg.RetireTimeout / time.Millisecond),
	}
	if err := unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return fail("PACKET_RX_RING", err)
	}
	r.ring, err = unix.Mmap(fd, 0, cfg.BlockSize*cfg.Blocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fail("mmap", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		return fail("bind", err)
	}
	if cfg.Promiscuous {
		mreq := unix.PacketMreq{Ifindex: int32(ifi.Index), Type: unix.PACKET_MR_PROMISC}
		if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
			return fail("promiscuous mode", err)
		}
	}
	if cfg.FanoutGroup != 0 {
		arg := int(cfg.FanoutGroup) | unix.PACKET_FANOUT_HASH<<16
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_FANOUT, arg); err != nil {
			return fail("PACKET_FANOUT", err)
		}
	}
	return r, nil
}

// Interface returns the index of the bound interface.
func (r *Ring) Interface() int { return r.ifindex }

func (r *Ring) blockStatus(b int) *uint32 {
	return (*uint32)(unsafe.Pointer(&r.ring[b*r.cfg.BlockSize+offBlockStatus]))
}

// Next returns the next frame, its kernel timestamp and its link type. The
// frame is valid until the next call.
func (r *Ring) Next() ([]byte, time.Time, decode.LinkType, error) {
	ne := binary.NativeEndian
	for {
		if r.closed.Load() {
			return nil, time.Time{}, 0, ErrClosed
		}
		if r.inBlock && r.left > 0 {
			h := r.ring[r.off:]
			next := ne.Uint32(h[0:])
			sec, nsec := ne.Uint32(h[4:]), ne.Uint32(h[8:])
			snap := int(ne.Uint32(h[12:]))
			status := ne.Uint32(h[20:])
			mac := int(ne.Uint16(h[24:]))
			tci := ne.Uint32(h[32:])
			tpid := ne.Uint16(h[36:])
			pkttype := h[sizeofTpacket3Hdr+10]
			data := h[mac : mac+snap]
			r.left--
			if next != 0 {
				r.off += int(next)
			}
			if pkttype == unix.PACKET_OUTGOING {
				r.stats.Outgoing++
				continue
			}
			if status&tpStatusVLANValid != 0 && len(data) >= 14 {
				if status&tpStatusVLANTPIDVal == 0 || tpid == 0 {
					tpid = 0x8100
				}
				b := append(r.buf[:0], data[:12]...)
				b = append(b, byte(tpid>>8), byte(tpid), byte(tci>>8), byte(tci))
				data = append(b, data[12:]...)
				r.buf = data[:0]
				r.stats.VLANRestored++
			}
			return data, time.Unix(int64(sec), int64(nsec)), decode.LinkEthernet, nil
		}
		if r.inBlock {
			// Every packet of the block was handed out and the caller is
			// done with the last: give the block back.
			atomic.StoreUint32(r.blockStatus(r.block), tpStatusKernel)
			r.inBlock = false
			r.block = (r.block + 1) % r.cfg.Blocks
		}
		if atomic.LoadUint32(r.blockStatus(r.block))&tpStatusUser != 0 {
			base := r.block * r.cfg.BlockSize
			r.inBlock = true
			r.left = ne.Uint32(r.ring[base+offNumPkts:])
			r.off = base + int(ne.Uint32(r.ring[base+offFirstPkt:]))
			continue
		}
		fds := []unix.PollFd{{Fd: int32(r.fd), Events: unix.POLLIN | unix.POLLERR}}
		n, err := unix.Poll(fds, r.pollTO)
		if err != nil && err != unix.EINTR {
			return nil, time.Time{}, 0, fmt.Errorf("ring: poll: %w", err)
		}
		if n == 0 {
			return nil, time.Time{}, 0, ErrTimeout
		}
		if fds[0].Revents&(unix.POLLERR|unix.POLLNVAL|unix.POLLHUP) != 0 {
			// An error would make poll return at once forever: report it
			// (ENETDOWN when the mirror port goes away) instead of spinning.
			if e, err := unix.GetsockoptInt(r.fd, unix.SOL_SOCKET, unix.SO_ERROR); err == nil && e != 0 {
				return nil, time.Time{}, 0, fmt.Errorf("ring: %s: %w", r.cfg.Interface, unix.Errno(e))
			}
			if fds[0].Revents&unix.POLLNVAL != 0 {
				return nil, time.Time{}, 0, ErrClosed
			}
		}
	}
}

// Ready reports how many blocks the kernel has filled and handed over
// beyond the one being read: how far the reader is behind the wire. A
// block is handed over when full or at the retire timeout, so a trickle
// fills the ring in Blocks x RetireTimeout however large it is. Only the
// goroutine that calls Next may call it.
func (r *Ring) Ready() int {
	n := 0
	for i := 1; i < r.cfg.Blocks; i++ {
		if atomic.LoadUint32(r.blockStatus((r.block+i)%r.cfg.Blocks))&tpStatusUser == 0 {
			break
		}
		n++
	}
	return n
}

// Blocks is the ring's number of blocks.
func (r *Ring) Blocks() int { return r.cfg.Blocks }

// Stats reads the kernel's counters (which reset on every read) and
// returns the totals since Open.
func (r *Ring) Stats() (Stats, error) {
	st, err := unix.GetsockoptTpacketStatsV3(r.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		return r.stats, fmt.Errorf("ring: statistics: %w", err)
	}
	r.stats.Packets += uint64(st.Packets)
	r.stats.Drops += uint64(st.Drops)
	r.stats.Freezes += uint64(st.Freeze_q_cnt)
	return r.stats, nil
}

// Stop makes Next return ErrClosed at its next poll timeout; it may be
// called from any goroutine. The reading goroutine then calls Close.
func (r *Ring) Stop() { r.closed.Store(true) }

// Close releases the ring and the socket. It must be called by the
// goroutine that calls Next (or after it has stopped): frames handed out
// point into the ring.
func (r *Ring) Close() error {
	r.closed.Store(true)
	if r.fd < 0 {
		return nil
	}
	var err error
	if r.ring != nil {
		err = unix.Munmap(r.ring)
		r.ring = nil
	}
	if cerr := unix.Close(r.fd); err == nil {
		err = cerr
	}
	r.fd = -1
	return err
}

package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/pcapgo"
	"github.com/spanvault/spanvault/capture/decode"
)

// File reads frames from a pcap or pcapng capture file.
type File struct {
	name  string
	f     *os.File
	pcap  *pcapgo.Reader
	mp    *mappedPcap // classic pcap, mapped (Linux)
	ng    *pcapgo.NgReader
	link  decode.LinkType
	count int
}

// OpenFile opens a pcap or pcapng file, recognised by its magic number.
func OpenFile(name string) (*File, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	br := bufio.NewReaderSize(f, 1<<20)
	magic, err := br.Peek(24)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("capture: %s: not a capture file (too short for a pcap header): %w", name, err)
	}
	cf := &File{name: name, f: f}
	var ok bool
	switch binary.LittleEndian.Uint32(magic) {
	case 0x0a0d0d0a:
		cf.ng, err = pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{})
		if err == nil {
			cf.link = decode.LinkType(cf.ng.LinkType())
		}
	case 0xa1b2c3d4, 0xa1b23c4d:
		cf.link = decode.LinkType(binary.LittleEndian.Uint32(magic[20:24]) & 0xffff)
		if cf.mp, ok, err = mapPcap(f); !ok {
			cf.pcap, err = pcapgo.NewReader(br)
		}
	case 0xd4c3b2a1, 0x4d3cb2a1:
		cf.link = decode.LinkType(binary.BigEndian.Uint32(magic[20:24]) & 0xffff)
		if cf.mp, ok, err = mapPcap(f); !ok {
			cf.pcap, err = pcapgo.NewReader(br)
		}
	default:
		err = errors.New("unknown magic number")
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("capture: %s: not a pcap or pcapng file: %w", name, err)
	}
	return cf, nil
}

// LinkType returns the file's link type (of its first interface for pcapng).
func (f *File) LinkType() decode.LinkType { return f.link }

// Next returns the next frame. The data is valid until the next call. At
// the end of the file it returns io.EOF; a file cut short returns an error
// that says after which packet.
func (f *File) Next() ([]byte, time.Time, decode.LinkType, error) {
	var (
		data []byte
		err  error
		lt   = f.link
		ts   time.Time
	)
	if f.ng != nil {
		var ci gopacket.CaptureInfo
		data, ci, err = f.ng.ZeroCopyReadPacketData()
		ts = ci.Timestamp
		if err == nil && ci.InterfaceIndex > 0 {
			if iface, ierr := f.ng.Interface(ci.InterfaceIndex); ierr == nil {
				lt = decode.LinkType(iface.LinkType)
			}
		}
	} else if f.mp != nil {
		data, ts, err = f.mp.next()
	} else {
		var ci gopacket.CaptureInfo
		data, ci, err = f.pcap.ZeroCopyReadPacketData()
		ts = ci.Timestamp
	}
	if err != nil {
		if err == io.EOF {
			if f.ng != nil {
				// pcapgo reports a block whose length runs past the end
				// of the file as a clean EOF: walk the block chain to tell.
				if verr := checkPcapngBlocks(f.f); verr != nil {
					return nil, ts, lt, fmt.Errorf("capture: %s: damaged after packet %d: %w", f.name, f.count, verr)
				}
			}
			return nil, ts, lt, io.EOF
		}
		return nil, ts, lt, fmt.Errorf("capture: %s: damaged or truncated after packet %d: %w", f.name, f.count, err)
	}
	f.count++
	return data, ts, lt, nil
}

// Count returns the number of frames read so far.
func (f *File) Count() int { return f.count }

// Close closes the file. Frames it handed out are invalid after it.
func (f *File) Close() error {
	if f.mp != nil {
		f.mp.close()
	}
	return f.f.Close()
}

// checkPcapngBlocks walks a pcapng file's block headers: every block's
// length must be at least 12, a multiple of 4, end inside the file and be
// repeated at its end; the last block must end where the file ends.
func checkPcapngBlocks(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	var hdr [8]byte
	order := binary.ByteOrder(binary.LittleEndian)
	for off := int64(0); off < size; {
		if _, err := f.ReadAt(hdr[:], off); err != nil {
			return fmt.Errorf("block header at byte %d cut short", off)
		}
		if binary.LittleEndian.Uint32(hdr[0:4]) == 0x0a0d0d0a {
			var bom [4]byte
			if _, err := f.ReadAt(bom[:], off+8); err != nil {
				return fmt.Errorf("section header at byte %d cut short", off)
			}
			if binary.BigEndian.Uint32(bom[:]) == 0x1a2b3c4d {
				order = binary.BigEndian
			} else {
				order = binary.LittleEndian
			}
		}
		n := int64(order.Uint32(hdr[4:8]))
		if n < 12 || n%4 != 0 || off+n > size {
			return fmt.Errorf("block at byte %d has length %d (the file has %d bytes)", off, n, size)
		}
		var trail [4]byte
		if _, err := f.ReadAt(trail[:], off+n-4); err != nil || int64(order.Uint32(trail[:])) != n {
			return fmt.Errorf("block at byte %d: trailing length does not match %d", off, n)
		}
		off += n
	}
	return nil
}

//go:build linux

package capture

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// mappedPcap reads a classic pcap file through a private mapping: frames
// are slices of the mapping, not copies (reading a capture through a
// buffer copied every byte twice, a tenth of "spanvault record"'s CPU).
// The pages behind the reader are given back every few MiB, so the
// process does not grow by the size of the file.
type mappedPcap struct {
	m        []byte
	off      int
	released int
	order    binary.ByteOrder
	nano     int64 // nanoseconds per unit of the header's fraction
	snaplen  int
}

const releaseEvery = 1 << 20

// mapPcap maps f when it is a regular classic pcap file the mapping can
// hold; ok is false (and the caller reads it through a buffer) otherwise.
func mapPcap(f *os.File) (p *mappedPcap, ok bool, err error) {
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() < 24 || fi.Size() != int64(int(fi.Size())) {
		return nil, false, nil
	}
	m, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE)
	if err != nil {
		return nil, false, nil // a file system that cannot map: read it
	}
	unix.Madvise(m, unix.MADV_SEQUENTIAL)
	p = &mappedPcap{m: m, off: 24}
	switch magic := binary.LittleEndian.Uint32(m); magic {
	case 0xa1b2c3d4:
		p.order, p.nano = binary.LittleEndian, 1000
	case 0xa1b23c4d:
		p.order, p.nano = binary.LittleEndian, 1
	case 0xd4c3b2a1:
		p.order, p.nano = binary.BigEndian, 1000
	case 0x4d3cb2a1:
		p.order, p.nano = binary.BigEndian, 1
	default:
		p.close()
		return nil, false, nil
	}
	if major, minor := p.order.Uint16(m[4:]), p.order.Uint16(m[6:]); major != 2 || minor != 4 {
		p.close()
		return nil, true, fmt.Errorf("unknown pcap version %d.%d", major, minor)
	}
	p.snaplen = int(p.order.Uint32(m[16:]))
	if p.snaplen == 0 {
		p.snaplen = 262144
	}
	return p, true, nil
}

// next returns the next frame, valid until the one after it is asked for.
func (p *mappedPcap) next() ([]byte, time.Time, error) {
	if p.off-p.released >= releaseEvery {
		// Everything before the frame handed out last is done with.
		end := p.off &^ (os.Getpagesize() - 1)
		unix.Madvise(p.m[p.released:end], unix.MADV_DONTNEED)
		p.released = end
	}
	rest := len(p.m) - p.off
	if rest == 0 {
		return nil, time.Time{}, io.EOF
	}
	if rest < 16 {
		return nil, time.Time{}, io.ErrUnexpectedEOF
	}
	h := p.m[p.off : p.off+16]
	capLen, origLen := int(p.order.Uint32(h[8:])), int(p.order.Uint32(h[12:]))
	ts := time.Unix(int64(p.order.Uint32(h)), int64(p.order.Uint32(h[4:]))*p.nano).UTC()
	switch {
	case capLen > p.snaplen:
		return nil, ts, fmt.Errorf("capture length exceeds snap length: %d > %d", capLen, p.snaplen)
	case capLen > origLen:
		return nil, ts, fmt.Errorf("capture length exceeds original packet length: %d > %d", capLen, origLen)
	case capLen > rest-16:
		return nil, ts, io.ErrUnexpectedEOF
	}
	start := p.off + 16
	p.off = start + capLen
	return p.m[start:p.off:p.off], ts, nil
}

func (p *mappedPcap) close() {
	if p.m != nil {
		_ = unix.Munmap(p.m) // fails only for a bad address, which p.m is not
		p.m = nil
	}
}

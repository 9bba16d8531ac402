package decode

import (
	"encoding/binary"
	"errors"
	"hash/maphash"
	"net/netip"
	"sort"
	"time"
)

// fragKey names one fragmented datagram.
type fragKey struct {
	src, dst netip.Addr
	id       uint32
	proto    uint8
}

type fragPiece struct {
	offset int
	data   []byte
}

type fragDatagram struct {
	first  time.Time
	pieces []fragPiece
	total  int // length of the whole payload once the last fragment is seen; -1 before
	frames []Fragment
	bytes  int // of frames and pieces held
}

// Limits that bound memory for fragments whose siblings never arrive.
const (
	fragTimeout     = 30 * time.Second
	maxFragDatagram = 65535
	maxFragPending  = 1024
	// maxFragHeld bounds the bytes held for one datagram (its frames with
	// their headers, and the IPv6 pieces): twice the largest datagram.
	maxFragHeld = 2 * maxFragDatagram
)

// fragStore reassembles IPv6 fragments (gopacket has no IPv6 defragmenter)
// and keeps copies of the frames of both IPv4 and IPv6 fragments so that
// the recording holds every fragment as captured.
type fragStore struct {
	pending map[fragKey]*fragDatagram
	buf     []byte
	// held is the bytes of every pending datagram; past max the oldest
	// datagrams are shed (counted in shed) until a quarter is free.
	held, max int
	shed      uint64
	// cutoff: after a shed, datagrams first seen before it are gone
	// (the decoder has ip4defrag forget them too).
	cutoff time.Time
}

func (s *fragStore) init(max int) {
	s.pending = make(map[fragKey]*fragDatagram)
	s.max = max
}

// drop forgets a datagram.
func (s *fragStore) drop(k fragKey) {
	if dg := s.pending[k]; dg != nil {
		s.held -= dg.bytes
		delete(s.pending, k)
	}
}

// grow accounts n more bytes, shedding the oldest datagrams first when
// the budget would be passed (a fragment flood is attack state: complete
// datagrams leave the store at once, so what lingers is what never
// completes).
func (s *fragStore) grow(dg *fragDatagram, n int) {
	dg.bytes += n
	s.held += n
	if s.max <= 0 || s.held <= s.max {
		return
	}
	s.shedOldest(dg, func() bool { return s.held <= s.max*3/4 })
}

// shedOldest drops datagrams oldest first (but except) until enough says
// so, and notes the newest one dropped so that ip4defrag forgets them too.
func (s *fragStore) shedOldest(except *fragDatagram, enough func() bool) {
	type aged struct {
		k     fragKey
		first time.Time
	}
	all := make([]aged, 0, len(s.pending))
	for k, d := range s.pending {
		all = append(all, aged{k, d.first})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].first.Before(all[j].first) })
	for _, a := range all {
		if enough() {
			break
		}
		if s.pending[a.k] == except {
			continue
		}
		s.drop(a.k)
		s.shed++
		if a.first.After(s.cutoff) {
			s.cutoff = a.first
		}
	}
}

func (s *fragStore) get(k fragKey, ts time.Time) *fragDatagram {
	dg := s.pending[k]
	if dg == nil {
		if len(s.pending) >= maxFragPending {
			s.expire(ts)
		}
		if len(s.pending) >= maxFragPending {
			// Still full of live datagrams: drop the oldest half rather
			// than grow without bound under a fragment flood.
			s.shedOldest(nil, func() bool { return len(s.pending) <= maxFragPending/2 })
		}
		dg = &fragDatagram{first: ts, total: -1}
		s.pending[k] = dg
	}
	return dg
}

func (s *fragStore) expire(now time.Time) {
	for k, dg := range s.pending {
		if now.Sub(dg.first) > fragTimeout {
			s.drop(k)
		}
	}
}

// keepFrame records a copy of a fragment frame (IPv4 path, where ip4defrag
// does the reassembly itself).
func (s *fragStore) keepFrame(k fragKey, ts time.Time, frame []byte) {
	dg := s.get(k, ts)
	if dg.bytes+len(frame) > maxFragHeld {
		// More fragment frames than any real datagram has (overlapping
		// or repeated fragments, after ip4defrag gave up on them): the
		// datagram is dropped rather than grown.
		s.drop(k)
		return
	}
	s.grow(dg, len(frame))
	dg.frames = append(dg.frames, Fragment{Time: ts, Frame: append([]byte(nil), frame...)})
}

// take returns the kept frames of a completed datagram and forgets it.
func (s *fragStore) take(k fragKey, dst []Fragment) []Fragment {
	dg := s.pending[k]
	if dg == nil {
		return dst
	}
	s.drop(k)
	return append(dst, dg.frames...)
}

var errFragOverrun = errors.New("fragment beyond the largest IP datagram")

// add adds an IPv6 fragment. When it completes the datagram, add returns the
// payload in a buffer owned by s (valid until the next call).
func (s *fragStore) add(k fragKey, offset int, more bool, data []byte, ts time.Time, frame []byte) ([]byte, bool, error) {
	if offset+len(data) > maxFragDatagram {
		return nil, false, errFragOverrun
	}
	dg := s.get(k, ts)
	if dg.bytes+len(data)+len(frame) > maxFragHeld {
		s.drop(k)
		return nil, false, errFragOverrun
	}
	s.grow(dg, len(data)+len(frame))
	dg.pieces = append(dg.pieces, fragPiece{offset: offset, data: append([]byte(nil), data...)})
	if !more {
		dg.total = offset + len(data)
	}
	if dg.total < 0 {
		dg.frames = append(dg.frames, Fragment{Time: ts, Frame: append([]byte(nil), frame...)})
		return nil, false, nil
	}
	sort.Slice(dg.pieces, func(i, j int) bool { return dg.pieces[i].offset < dg.pieces[j].offset })
	covered := 0
	for _, pc := range dg.pieces {
		if pc.offset > covered {
			dg.frames = append(dg.frames, Fragment{Time: ts, Frame: append([]byte(nil), frame...)})
			return nil, false, nil // a hole remains
		}
		covered = max(covered, pc.offset+len(pc.data))
	}
	if covered < dg.total {
		dg.frames = append(dg.frames, Fragment{Time: ts, Frame: append([]byte(nil), frame...)})
		return nil, false, nil
	}
	if cap(s.buf) < dg.total {
		s.buf = make([]byte, dg.total)
	}
	out := s.buf[:dg.total]
	for _, pc := range dg.pieces {
		copy(out[pc.offset:], pc.data)
	}
	return out, true, nil
}

// dedup remembers recent IP packets by hash so that the same packet seen on
// two mirrored ports is reported once. It is a fixed-size table: memory does
// not depend on traffic, and a collision can only make it forget, never
// drop a packet that was not seen.
type dedup struct {
	window time.Duration
	seed   maphash.Seed
	key    uint64 // drawn from seed
	slots  [4096]dedupSlot
}

type dedupSlot struct {
	hash uint64
	at   int64
}

// seen reports whether an identical IP packet (ignoring TTL / hop limit and
// the IPv4 header checksum, which a router between the two mirror points
// changes) was seen within the window, and remembers this one.
func (d *dedup) seen(ip []byte, version int, ts time.Time) bool {
	if d.window <= 0 || len(ip) < 20 {
		return false
	}
	// The bytes after the skipped fields are hashed in one call (no copy
	// into a hash buffer); the few header bytes before them are mixed in
	// apart, keyed like the seed so that no one can choose two headers
	// that mix alike.
	var head, sum uint64
	if version == 4 {
		// Version to fragment offset, then the protocol: TTL (8) and
		// checksum (10, 11) are left out.
		head = mix(binary.LittleEndian.Uint64(ip[:8])^d.key) ^ uint64(ip[9])
		sum = maphash.Bytes(d.seed, ip[12:])
	} else {
		// Everything before the hop limit (7).
		head = (uint64(binary.BigEndian.Uint32(ip[:4]))<<24 | uint64(binary.BigEndian.Uint16(ip[4:6]))<<8 | uint64(ip[6])) ^ d.key
		sum = maphash.Bytes(d.seed, ip[8:])
	}
	sum ^= mix(head)
	slot := &d.slots[sum%uint64(len(d.slots))]
	now := ts.UnixNano()
	if slot.hash == sum && now-slot.at >= 0 && now-slot.at <= int64(d.window) {
		return true
	}
	slot.hash, slot.at = sum, now
	return false
}

// mix is splitmix64's finalizer: a bijection on 64 bits that spreads every
// input bit over the output.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

package rtpstream

import (
	"math"
	"time"
)

// Stats is the state of one stream.
type Stats struct {
	SSRC       uint32
	ClockRate  int // Hz, for jitter; 0 until known
	Packets    uint64
	Bytes      uint64 // RTP payload bytes
	Duplicates uint64 // packets whose sequence number was already seen recently
	OutOfOrder uint64 // packets older than the highest sequence seen
	First      time.Time
	Last       time.Time

	baseSeq   uint16
	maxSeq    uint16
	cycles    uint32
	started   bool
	transit   float64 // arrival minus RTP timestamp, in timestamp units
	jitter    float64 // in timestamp units, RFC 3550 J
	maxJitter float64
	lastTS    uint32
	afterCN   bool
	// seen is a bitmap of the last 1024 sequence numbers, for duplicates.
	seen [16]uint64
}

// Flags describe a packet for the jitter statistics.
type Flags uint8

// Packet flags.
const (
	Marker       Flags = 1 << iota // marker bit: a talkspurt or event starts, the timestamp jumps
	ComfortNoise                   // PT 13: silence suppression, irregular by design
)

// Add accounts one packet with its arrival time, sequence number and RTP
// timestamp. Jitter is computed in floating point (as tshark does); the
// maximum ignores packets whose spacing is irregular by design (marker
// bit, comfort noise and the packet after it), as tshark does.
func (s *Stats) Add(at time.Time, seq uint16, ts uint32, payloadLen int, fl Flags) {
	s.Packets++
	s.Bytes += uint64(payloadLen)
	if !s.started {
		s.started = true
		s.baseSeq, s.maxSeq = seq, seq
		s.First = at
		s.mark(seq)
		s.Last = at
		s.transit = s.arrival(at) - float64(ts)
		s.lastTS = ts
		s.afterCN = fl&ComfortNoise != 0
		return
	}
	s.Last = at
	delta := seq - s.maxSeq
	switch {
	case delta == 0 || s.isSeen(seq):
		s.Duplicates++
	case delta < 0x8000:
		if seq < s.maxSeq {
			s.cycles++ // wrapped
		}
		// Forget what the slots of the newly reached sequence numbers held
		// 1024 numbers ago.
		for k := uint16(1); k < delta && k < 1024; k++ {
			s.clear(s.maxSeq + k)
		}
		s.maxSeq = seq
		s.mark(seq)
	default:
		s.OutOfOrder++
		s.mark(seq)
	}
	if s.ClockRate > 0 {
		// RFC 3550 A.8: D(i-1,i) = (Rj - Ri) - (Sj - Si), in timestamp units.
		transit := s.arrival(at) - float64(ts)
		d := math.Abs(transit - s.transit)
		s.transit = transit
		s.jitter += (d - s.jitter) / 16
		if s.jitter > s.maxJitter && fl&(Marker|ComfortNoise) == 0 && !s.afterCN {
			s.maxJitter = s.jitter
		}
	}
	s.afterCN = fl&ComfortNoise != 0
	s.lastTS = ts
}

func (s *Stats) arrival(at time.Time) float64 {
	if s.ClockRate <= 0 {
		return 0
	}
	// Relative to the stream's first packet, so that float64 keeps
	// sub-microsecond precision.
	return at.Sub(s.First).Seconds() * float64(s.ClockRate)
}

func (s *Stats) mark(seq uint16) {
	i := seq % 1024
	s.seen[i/64] |= 1 << (i % 64)
}

func (s *Stats) clear(seq uint16) {
	i := seq % 1024
	s.seen[i/64] &^= 1 << (i % 64)
}

func (s *Stats) isSeen(seq uint16) bool {
	if s.maxSeq-seq >= 1024 {
		return false // too old to remember; counted as out of order
	}
	i := seq % 1024
	return s.seen[i/64]&(1<<(i%64)) != 0
}

// Expected returns the number of packets the sequence numbers span.
func (s *Stats) Expected() int64 {
	if !s.started {
		return 0
	}
	ext := int64(s.cycles)<<16 + int64(s.maxSeq)
	return ext - int64(s.baseSeq) + 1
}

// Lost returns expected minus received (negative when packets repeat).
func (s *Stats) Lost() int64 { return s.Expected() - int64(s.Packets) }

// LossRate returns the fraction of expected packets that never arrived.
func (s *Stats) LossRate() float64 {
	e := s.Expected()
	l := s.Lost()
	if e <= 0 || l <= 0 {
		return 0
	}
	return float64(l) / float64(e)
}

// Jitter returns the current interarrival jitter.
func (s *Stats) Jitter() time.Duration { return s.toDuration(s.jitter) }

// MaxJitter returns the largest jitter seen.
func (s *Stats) MaxJitter() time.Duration { return s.toDuration(s.maxJitter) }

func (s *Stats) toDuration(j float64) time.Duration {
	if s.ClockRate <= 0 {
		return 0
	}
	return time.Duration(j / float64(s.ClockRate) * float64(time.Second))
}

// MOS estimates the listening quality from loss and jitter with the G.107
// E-model, using the simplification common in VoIP monitoring: a jitter
// buffer of twice the jitter adds delay, and random loss impairs the codec
// with Ie=0, Bpl=25.1 (G.711 with packet loss concealment, G.113 App. I).
func (s *Stats) MOS() float64 {
	return EModel(s.LossRate(), s.Jitter(), 20*time.Millisecond)
}

// EModel returns the MOS for a loss rate, jitter and one-way network delay.
func EModel(loss float64, jitter, delay time.Duration) float64 {
	const (
		r0  = 93.2
		ie  = 0.0
		bpl = 25.1
	)
	d := float64(delay+2*jitter+10*time.Millisecond) / float64(time.Millisecond)
	id := 0.024 * d
	if d > 177.3 {
		id += 0.11 * (d - 177.3)
	}
	ppl := loss * 100
	ieEff := ie + (95-ie)*ppl/(ppl+bpl)
	r := r0 - id - ieEff
	switch {
	case r <= 0:
		return 1
	case r >= 100:
		return 4.5
	}
	mos := 1 + 0.035*r + r*(r-60)*(100-r)*7e-6
	return math.Round(mos*100) / 100
}

// Continues reports whether a packet with sequence number seq would carry
// the stream on: ahead of the highest number seen, by at most 64 (a
// stream that moved to another port, not a copy of it, which repeats
// numbers already seen).
func (s *Stats) Continues(seq uint16) bool {
	d := seq - s.maxSeq
	return s.started && d >= 1 && d <= 64
}

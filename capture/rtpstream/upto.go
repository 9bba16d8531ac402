package rtpstream

// Distinct returns the packets received without counting repeats.
func (s *Stats) Distinct() int64 { return int64(s.Packets - s.Duplicates) }

// Upto returns, for the part of the stream up to and including sequence
// number seq (the low 16 bits of the extended highest sequence number a
// receiver reported), the packets the sequence numbers span and the
// distinct packets received. A seq ahead of the highest number seen (by
// less than 32768) counts the numbers between as expected and not
// received. ok is false when seq lies more than 1024 numbers behind the
// highest seen: the stream no longer remembers which of those arrived.
func (s *Stats) Upto(seq uint16) (expected, received int64, ok bool) {
	if !s.started {
		return 0, 0, false
	}
	back := s.maxSeq - seq
	if back >= 0x8000 {
		// Ahead of what we saw: the receiver has packets we never did.
		return s.Expected() + int64(seq-s.maxSeq), s.Distinct(), true
	}
	if back >= 1024 || int64(back) >= s.Expected() {
		return 0, 0, false
	}
	// Count the numbers in (seq, maxSeq] that arrived.
	var after int64
	for k := uint16(0); k < back; k++ {
		i := (s.maxSeq - k) % 1024
		after += int64(s.seen[i/64] >> (i % 64) & 1)
	}
	return s.Expected() - int64(back), s.Distinct() - after, true
}

// Reached reports whether the stream's highest sequence number seen is
// seq or beyond it (by less than 32768).
func (s *Stats) Reached(seq uint16) bool { return s.started && s.maxSeq-seq < 0x8000 }

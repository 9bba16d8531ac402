package record

// StreamCompleteness is how complete one stream's recording is and, where
// the stream's RTCP says, whose loss each missing packet was (see
// capture/calls' package doc for the argument). Counts are packets.
type StreamCompleteness struct {
	// ExpectedSeq is what the sequence numbers the box captured span;
	// Captured the distinct packets it captured of them.
	ExpectedSeq int64 `json:"expected_seq"`
	Captured    int64 `json:"captured"`
	// SenderReports is the sender reports seen for the stream;
	// SenderPackets the sender's packet count in the last one, and
	// ExpectedSR the stream's expected packets from it: ExpectedSeq plus
	// the packets the sender counted before the first sequence number
	// the box saw.
	SenderReports uint64 `json:"sender_reports,omitempty"`
	SenderPackets uint32 `json:"sender_packets,omitempty"`
	ExpectedSR    int64  `json:"expected_sr,omitempty"`
	// ReceiverReports is the reception reports on the stream the far end
	// sent; ReceiverLost and ReceiverHighestSeq its cumulative number
	// lost and extended highest sequence number in the last one.
	ReceiverReports    uint64 `json:"receiver_reports,omitempty"`
	ReceiverLost       int64  `json:"receiver_lost,omitempty"`
	ReceiverHighestSeq uint32 `json:"receiver_highest_seq,omitempty"`
	// The missing packets (ExpectedSR or ExpectedSeq minus Captured),
	// attributed: LostNetwork never crossed the wire the box mirrors
	// (the receiver lost them too, or the sender counted them before any
	// reached the mirror); LostCapture crossed it (the receiver got them)
	// but the box missed them; Unattributed lie beyond the last
	// reception report, or the stream had none. LostAfterMirror is what
	// the receiver lost although the box captured it: the network's loss
	// downstream of the mirror, which the recording does not miss.
	LostNetwork     int64 `json:"lost_network"`
	LostCapture     int64 `json:"lost_capture"`
	Unattributed    int64 `json:"unattributed"`
	LostAfterMirror int64 `json:"lost_after_mirror,omitempty"`
}

// Completeness sums a call's streams' completeness. An entry written
// before completeness was recorded has none (nil): nothing is known.
type Completeness struct {
	Expected        int64 `json:"expected"`
	Captured        int64 `json:"captured"`
	LostNetwork     int64 `json:"lost_network"`
	LostCapture     int64 `json:"lost_capture"`
	Unattributed    int64 `json:"unattributed"`
	LostAfterMirror int64 `json:"lost_after_mirror,omitempty"`
	// Reported: some stream had RTCP reports to attribute its loss by.
	Reported bool `json:"reported,omitempty"`
}

// IncompleteByUs reports whether the recording misses packets that
// crossed the mirrored wire: the box's (or the mirror port's) loss, not
// the network's.
func (c *Completeness) IncompleteByUs() bool { return c != nil && c.LostCapture > 0 }

// Add sums one stream into c.
func (c *Completeness) Add(s *StreamCompleteness) {
	exp := s.ExpectedSeq
	if s.ExpectedSR > exp {
		exp = s.ExpectedSR
	}
	c.Expected += exp
	c.Captured += s.Captured
	c.LostNetwork += s.LostNetwork
	c.LostCapture += s.LostCapture
	c.Unattributed += s.Unattributed
	c.LostAfterMirror += s.LostAfterMirror
	if s.SenderReports > 0 || s.ReceiverReports > 0 {
		c.Reported = true
	}
}

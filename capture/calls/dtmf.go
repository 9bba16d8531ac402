package calls

// RFC 4733 telephone-events as call events.

import (
	"encoding/binary"
	"time"
)

var dtmfDigits = "0123456789*#ABCD"

// dtmf turns RFC 4733 telephone-events into call events: one event per
// digit, keyed by the RTP timestamp that all packets of one event share.
func (t *Tracker) dtmf(c *Call, d Dir, h *rtpHeader, payload []byte, at time.Time) {
	if len(payload) < 4 || c.pausedAt(at) {
		return
	}
	ev := int(payload[0])
	dur := binary.BigEndian.Uint16(payload[2:4])
	if c.dtmf == nil {
		c.dtmf = map[uint32]*dtmfState{}
	}
	st := c.dtmf[h.ts]
	if st == nil && (len(c.Events) >= t.cfg.MaxEventsPerCall || len(c.dtmf) >= t.cfg.MaxEventsPerCall) {
		// Forged telephone-events: bounded, counted.
		c.Anomalies++
		t.Stats.Anomalies++
		return
	}
	if st == nil {
		st = &dtmfState{event: len(c.Events)}
		c.dtmf[h.ts] = st
		digit := "?"
		if ev < len(dtmfDigits) {
			digit = string(dtmfDigits[ev])
		}
		c.Events = append(c.Events, Event{Time: at, Kind: "dtmf", Digit: digit, Detail: d.String()})
	}
	rate := c.clockRate(d, h.pt)
	if rate <= 0 {
		rate = 8000
	}
	if st.event < len(c.Events) {
		c.Events[st.event].Duration = time.Duration(dur) * time.Second / time.Duration(rate)
	}
}

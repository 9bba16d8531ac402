package calls

// Handing a call's frames to the recorder.

import (
	"errors"
	"time"
)

// write hands a frame to the call's recording, starting the recording on
// the first media frame and holding SIP frames until then.
func (t *Tracker) write(c *Call, f *Frame, isSIP bool) {
	if c.rec == nil {
		if isSIP || t.rec == nil || !c.Policy.Record || c.recordErr != nil {
			if isSIP {
				t.hold(c, f)
			}
			return
		}
		rec, err := t.rec.Start(c.Draft())
		if err != nil {
			c.recordErr = err
			c.detailKept = errors.Is(err, ErrDetailKept)
			t.Stats.RecordErrors++
			c.Events = append(c.Events, Event{Time: f.Time, Kind: "record_error", Detail: err.Error()})
			return
		}
		c.rec = rec
		c.Recorded = true
		t.Stats.CallsRecorded++
		for i := range c.pending {
			if err := rec.Write(&c.pending[i]); err != nil {
				t.recordError(c, f.Time, err)
				return
			}
		}
		t.pendingTotal -= c.pendingLen
		c.pending, c.pendingLen = nil, 0
	}
	if err := c.rec.Write(f); err != nil {
		t.recordError(c, f.Time, err)
	}
}

func (t *Tracker) recordError(c *Call, at time.Time, err error) {
	t.Stats.RecordErrors++
	if c.recordErr == nil {
		c.recordErr = err
		c.Events = append(c.Events, Event{Time: at, Kind: "record_error", Detail: err.Error()})
	}
}

func (t *Tracker) hold(c *Call, f *Frame) {
	if c.pendingLen+len(f.Data) > t.cfg.MaxPendingBytes || t.pendingTotal+len(f.Data) > t.cfg.MaxPendingTotal {
		t.Stats.PendingOverflow++
		return
	}
	t.pendingTotal += len(f.Data)
	cp := *f
	cp.Data = append([]byte(nil), f.Data...)
	c.pending = append(c.pending, cp)
	c.pendingLen += len(cp.Data)
}

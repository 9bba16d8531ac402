package calls

// The end of calls: timeouts, eviction, shutdown, and the reconciliation of
// signalling with media when a call is let go.

import (
	"errors"
	"fmt"
	"sort"
	"time"
)

// tick runs the expiry sweep once per second of capture time.
func (t *Tracker) tick(now time.Time) {
	if now.After(t.now) {
		t.now = now
	}
	if t.lastSweep.IsZero() {
		t.lastSweep = now
		return
	}
	if now.Sub(t.lastSweep) < time.Second {
		return
	}
	t.lastSweep = now
	t.Sweep(now)
}

// Sweep ends dialogs whose time is up at now. The pipeline calls it for
// live capture when no packet arrives for a while.
func (t *Tracker) Sweep(now time.Time) {
	if now.After(t.now) {
		t.now = now
	}
	t.expireEnded(now, t.cfg.HoldWindow)
	for _, c := range t.calls {
		switch {
		case !c.finalAt.IsZero():
			linger := t.cfg.Linger
			if c.FinalCode == 401 || c.FinalCode == 407 {
				// A challenged caller usually retries at once, a person
				// typing a password may take a while.
				linger = max(linger, t.cfg.DialogTimeout/3)
			}
			if now.Sub(c.finalAt) >= linger {
				t.finish(c, "")
			}
		case c.State.Answered():
			if now.Sub(c.lastSeen) >= t.cfg.MediaTimeout {
				c.State = Ended
				c.End = c.lastSeen
				c.EndReason = "media timeout"
				t.finish(c, "")
			}
		default:
			if now.Sub(c.lastSeen) >= t.cfg.DialogTimeout {
				c.State = Unanswered
				c.End = c.lastSeen
				c.EndReason = "dialog timeout"
				t.finish(c, "")
			}
		}
	}
	t.expireHeld(now)
	t.expireUnassoc(now, false)
}

func (t *Tracker) evictOldest(now time.Time) {
	var victim *Call
	if e := t.unanswered.Front(); e != nil {
		victim = e.Value.(*Call)
	}
	if victim == nil {
		// Every dialog held is answered (rare: MaxCalls answered calls at
		// once): the least recently seen of them goes.
		for _, c := range t.calls {
			if victim == nil || c.lastSeen.Before(victim.lastSeen) {
				victim = c
			}
		}
	}
	if victim != nil {
		t.Stats.CallsEvicted++
		victim.Events = append(victim.Events, Event{Time: now, Kind: "evicted", Detail: "too many dialogs at once"})
		if !victim.State.Answered() && victim.finalAt.IsZero() {
			victim.State = Unanswered
			victim.EndReason = "evicted"
		}
		if victim.End.IsZero() {
			victim.End = victim.lastSeen
		}
		t.finish(victim, "")
	}
}

// Close ends every dialog (reason, e.g. "capture ended" or "ended by
// shutdown", for calls still up) and reports every unassociated stream.
func (t *Tracker) Close(reason string) {
	t.releaseHeld(t.held.n)
	ids := make([]string, 0, len(t.calls))
	for id := range t.calls {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return t.calls[ids[i]].Start.Before(t.calls[ids[j]].Start) })
	for _, id := range ids {
		t.finish(t.calls[id], reason)
	}
	keys := make([]unassocKey, 0, len(t.unassoc))
	for k := range t.unassoc {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return t.unassoc[keys[i]].Stats.First.Before(t.unassoc[keys[j]].Stats.First) })
	for _, k := range keys {
		t.finishUnassoc(t.unassoc[k])
		delete(t.unassoc, k)
	}
}

// finish reconciles a call's signalling with its media, hands it to the
// recorder and forgets it.
func (t *Tracker) finish(c *Call, reason string) {
	if c.finalAt.IsZero() && reason != "" {
		if c.State.Answered() {
			c.State = Ended
		} else {
			c.State = Unanswered
		}
		c.EndReason = reason
		c.End = c.lastSeen
		if t.now.After(c.End) {
			c.End = t.now
		}
	}
	if c.End.IsZero() {
		c.End = c.lastSeen
	}
	for i := range c.Holds {
		if c.Holds[i].End.IsZero() {
			c.Holds[i].End = c.End
		}
	}
	t.reconcile(c)
	t.explainDone(c)
	delete(t.calls, c.CallID)
	if c.unans != nil {
		t.unanswered.Remove(c.unans)
		c.unans = nil
	}
	t.forgetCall(c, t.now)
	if c.rec != nil {
		if err := c.rec.Finish(c.Draft()); err != nil {
			t.Stats.RecordErrors++
			c.Events = append(c.Events, Event{Time: c.End, Kind: "record_error", Detail: err.Error()})
		}
	} else if t.rec != nil && !c.detailKept {
		if err := t.rec.Detail(c.Draft()); errors.Is(err, ErrDetailShed) {
			t.Stats.DetailsShed++
		} else if err != nil {
			t.Stats.RecordErrors++
		}
	}
	t.pendingTotal -= c.pendingLen
	c.pending, c.pendingLen = nil, 0
	if t.Done != nil {
		t.Done(c)
	}
}

// reconcile reports the gaps between what signalling says happened and
// what media was seen: the completeness check regulators ask for.
func (t *Tracker) reconcile(c *Call) {
	if !c.State.Answered() {
		return
	}
	a, b := !c.firstMedia[AtoB].IsZero(), !c.firstMedia[BtoA].IsZero()
	switch {
	case !a && !b:
		c.Events = append(c.Events, Event{Time: c.End, Kind: GapNoMedia, Detail: "answered but no media seen"})
	case a != b:
		missing := BtoA
		if !a {
			missing = AtoB
		}
		c.Events = append(c.Events, Event{Time: c.End, Kind: GapOneWay, Detail: "no media " + missing.String()})
	}
	if !c.byeAt.IsZero() {
		last := c.lastMedia[AtoB]
		if c.lastMedia[BtoA].After(last) {
			last = c.lastMedia[BtoA]
		}
		if !last.IsZero() && c.byeAt.Sub(last) > t.cfg.MediaStoppedGap {
			c.Events = append(c.Events, Event{Time: last, Kind: GapMediaStopped,
				Detail: fmt.Sprintf("media stopped %s before the BYE", c.byeAt.Sub(last).Round(time.Second))})
		}
	}
	if (a || b) && !c.Recorded && c.Policy.Record && t.rec != nil {
		c.Events = append(c.Events, Event{Time: c.End, Kind: GapNotRecorded, Detail: "media seen but nothing stored"})
	}
}

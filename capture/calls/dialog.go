package calls

// The SIP dialog machine: a message's walk through a call's states, and
// the SDP bodies that say where each side wants its media.

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/spanvault/spanvault/capture/sdp"
	"github.com/spanvault/spanvault/capture/sip"
)

// SIP handles one SIP message. frames are the captured frames that carried
// it (one for UDP; the fragments of a fragmented datagram; the segments of
// a TCP stream).
func (t *Tracker) SIP(m *sip.Message, at time.Time, src, dst netip.AddrPort, transport string, frames []Frame) {
	t.Stats.SIPMessages++
	t.tick(at)
	callID := string(m.CallID)
	c := t.calls[callID]
	isInvite := string(m.Method) == "INVITE" || string(m.CSeqMethod) == "INVITE"
	if c == nil {
		if !isInvite {
			t.Stats.NonCallSIP++
			return
		}
		c = t.newCall(m, at, src, dst, callID)
		if c == nil {
			return
		}
	}
	c.SIPMessages++
	c.lastSeen = at
	if c.Transport == nil {
		c.Transport = map[string]bool{}
	}
	c.Transport[transport] = true
	for i := range frames {
		frames[i].Kind = KindSIP
		t.write(c, &frames[i], true)
	}
	// A request's From names its sender's side; a response flows back
	// to the side that sent the request, so its sender is the other one.
	callerTag := string(m.From.Tag) == c.FromTag
	if c.FromTag == "" {
		callerTag = src == c.Caller || dst == c.Callee
		if !m.IsRequest() {
			callerTag = dst == c.Caller || src == c.Callee
		}
	}
	fromCaller := callerTag
	if !m.IsRequest() {
		fromCaller = !callerTag
	}
	if m.IsRequest() {
		t.request(c, m, at, src, fromCaller)
	} else {
		t.response(c, m, at, src, fromCaller)
	}
	switch {
	case c.unans == nil:
	case c.State.Answered() && c.confirmed():
		t.unanswered.Remove(c.unans)
		c.unans = nil
	default:
		// Unanswered, or answered but known only from responses (a bare
		// 200 OK is two lines for a scanner to forge): evicted first.
		t.unanswered.MoveToBack(c.unans)
	}
	t.replayHeld()
}

func (t *Tracker) newCall(m *sip.Message, at time.Time, src, dst netip.AddrPort, callID string) *Call {
	if len(t.calls) >= t.cfg.MaxCalls {
		t.evictOldest(at)
	}
	c := &Call{
		CallID:   callID,
		From:     string(m.From.URI),
		FromName: string(m.From.Display),
		To:       string(m.To.URI),
		PAI:      string(m.PAI),
		FromTag:  string(m.From.Tag),
		Start:    at,
		State:    Trying,
		lastSeen: at,
		codecs:   map[Dir]map[uint8]string{AtoB: {}, BtoA: {}},
		rates:    map[Dir]map[uint8]int{AtoB: {}, BtoA: {}},
	}
	if m.IsRequest() {
		c.Caller, c.Callee = src, dst
	} else {
		// First seen through a response: the capture started mid-dialog.
		c.Caller, c.Callee = dst, src
	}
	c.Direction = t.direction(c)
	c.Line = t.line(c)
	if t.policy != nil {
		c.Policy = t.policy.Decide(c.setup())
	} else {
		c.Policy = Decision{Record: true, Class: "default"}
	}
	c.Policy.AgentSide = t.agentSide(c)
	t.calls[callID] = c
	c.unans = t.unanswered.PushBack(c)
	t.Stats.Calls++
	return c
}

func (t *Tracker) request(c *Call, m *sip.Message, at time.Time, src netip.AddrPort, fromCaller bool) {
	c.requestSeen = true
	side := BtoA
	if fromCaller {
		side = AtoB
	}
	switch string(m.Method) {
	case "INVITE":
		if len(m.To.Tag) > 0 && c.ToTag == "" {
			c.ToTag = string(m.To.Tag)
		}
		if len(m.To.Tag) == 0 && (c.State == Rejected || c.State == Unanswered) && c.byeAt.IsZero() {
			// A new initial INVITE on the same Call-ID after a challenge
			// (401/407) or a failure: the caller retries the same call.
			c.State = Trying
			c.EndReason = ""
			c.FinalCode = 0
			c.End = time.Time{}
			c.finalAt = time.Time{}
		}
		if body := m.SDPBody(); body != nil {
			t.sdp(c, body, sideOf(side), at)
		}
	case "ACK", "PRACK", "UPDATE":
		if body := m.SDPBody(); body != nil {
			t.sdp(c, body, sideOf(side), at)
		}
	case "CANCEL":
		if !c.State.Answered() && c.finalAt.IsZero() {
			c.State = Cancelled
			c.EndReason = "cancel"
			c.End = at
			c.finalAt = at
		}
	case "BYE":
		if c.byeAt.IsZero() {
			c.byeAt = at
			c.End = at
			if c.State.Answered() {
				c.State = Ended
			} else if c.finalAt.IsZero() {
				c.State = Cancelled
			}
			if fromCaller {
				c.EndReason = "bye by caller"
			} else {
				c.EndReason = "bye by callee"
			}
			c.finalAt = at
		}
	}
}

// sideOf: SDP in a message sent by side d describes where side d receives.
func sideOf(sender Dir) Dir {
	if sender == AtoB {
		return BtoA // media toward the caller flows callee->caller
	}
	return AtoB
}

func (t *Tracker) response(c *Call, m *sip.Message, at time.Time, src netip.AddrPort, fromCaller bool) {
	if string(m.CSeqMethod) != "INVITE" {
		return
	}
	sender := BtoA
	if fromCaller {
		sender = AtoB
	}
	code := m.StatusCode
	if body := m.SDPBody(); body != nil && code < 300 {
		t.sdp(c, body, sideOf(sender), at)
	}
	switch {
	case code == 180 || code == 181 || code == 182:
		if c.State == Trying {
			c.State = Ringing
		}
	case code == 183:
		if c.State == Trying || c.State == Ringing {
			if m.SDPBody() != nil {
				c.State = Early
			} else {
				c.State = Ringing
			}
		}
	case code >= 200 && code < 300:
		if c.ToTag == "" {
			c.ToTag = string(m.To.Tag)
		}
		if !c.State.Answered() && c.byeAt.IsZero() {
			c.State = Answered
			c.Answer = at
			c.finalAt = time.Time{}
		}
	case code >= 300:
		if c.State.Answered() {
			return // a failed re-INVITE leaves the call up
		}
		if c.finalAt.IsZero() || c.State == Cancelled {
			if code == 487 && c.State == Cancelled {
				// the expected answer to CANCEL
			} else {
				c.State = Rejected
				c.EndReason = "rejected " + strconv.Itoa(code)
			}
			c.FinalCode = code
			c.End = at
			c.finalAt = at
		}
	}
}

// sdp registers where the side that sent an SDP body wants its media; recv
// is the packet direction of media flowing toward that side.
func (t *Tracker) sdp(c *Call, body []byte, recv Dir, at time.Time) {
	s, err := sdp.Parse(body)
	if err != nil {
		return
	}
	owner := BtoA
	if recv == AtoB {
		owner = AtoB
	}
	onHold := false
	media := s.Media
	if len(media) > maxMediaSections {
		// An SDP with thousands of m= lines (an attack: +1.1 GB per
		// 1,000 dialogs) registers only its first sections.
		media = media[:maxMediaSections]
		t.Stats.Anomalies++
	}
	for i := range media {
		md := &media[i]
		isAudio := md.Type == "audio" && strings.HasPrefix(strings.ToUpper(md.Proto), "RTP/")
		for _, f := range md.Formats {
			if f.Name != "" && len(c.codecs[recv]) < maxFormats {
				c.setCodec(recv, f.PT, f.Name)
				if f.Rate > 0 {
					c.rates[recv][f.PT] = f.Rate
				}
			}
		}
		if md.OnHold() && md.Type == "audio" {
			onHold = true
		}
		if ep, ok := md.Endpoint(); ok {
			t.register(c, ep, owner, isAudio, false)
			if isAudio {
				if rtcp, ok := md.RTCPEndpoint(); ok && rtcp != ep {
					t.register(c, rtcp, owner, false, true)
				}
			}
		}
	}
	// A side that offers sendonly/inactive (or 0.0.0.0) puts the other on
	// hold: the hold is by the side that sent the SDP.
	sender := BtoA
	if recv == BtoA {
		sender = AtoB
	}
	if c.State.Answered() || c.Answer.IsZero() {
		if onHold && !c.holding[sender] {
			c.holding[sender] = true
			c.Holds = append(c.Holds, Hold{By: sender, Start: at})
			c.Events = append(c.Events, Event{Time: at, Kind: "hold", Detail: sender.String()})
		} else if !onHold && c.holding[sender] {
			c.holding[sender] = false
			for i := len(c.Holds) - 1; i >= 0; i-- {
				if c.Holds[i].By == sender && c.Holds[i].End.IsZero() {
					c.Holds[i].End = at
					break
				}
			}
			c.Events = append(c.Events, Event{Time: at, Kind: "unhold", Detail: sender.String()})
		}
	}
}

// Bounds on what one SDP can register.
const (
	maxMediaSections = 16
	maxFormats       = 64
)

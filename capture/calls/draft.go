package calls

// What the tracker hands the recorder: a finished record.Draft of a call,
// and the record.Setup its policy decides on.

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/spanvault/spanvault/capture/sip"
	"github.com/spanvault/spanvault/record"
)

// setup is what the recording policy is told of a call first seen.
func (c *Call) setup() record.Setup {
	return record.Setup{
		CallID:    c.CallID,
		FromUser:  string(sip.User([]byte(c.From))),
		ToUser:    string(sip.User([]byte(c.To))),
		Direction: string(c.Direction),
	}
}

// Draft returns the call as a recorder is handed it: its figures and its
// personal record as of now, numbers normalised and codecs named. The
// draft shares no memory the tracker changes later: the tracker calls it
// when it hands the call over (Recorder.Start and Detail,
// Recording.Finish); a tool reading a call (tests, cmd) may call it too.
func (c *Call) Draft() *record.Draft {
	fromUser, toUser := string(sip.User([]byte(c.From))), string(sip.User([]byte(c.To)))
	d := &record.Draft{
		CallState:  string(c.State),
		Answered:   c.State.Answered(),
		EndReason:  c.EndReason,
		Direction:  string(c.Direction),
		Line:       c.Line,
		Start:      c.Start,
		Answer:     c.Answer,
		Duration:   c.Duration(),
		Codecs:     c.Codecs(),
		Formats:    c.PayloadNames(),
		Class:      c.Policy.Class,
		AgentOnly:  c.Policy.AgentOnly && !c.Consented,
		Recorded:   c.Recorded,
		FromNumber: record.NormalizeNumber(fromUser),
		ToNumber:   record.NormalizeNumber(toUser),
		Dialled:    strings.ToLower(toUser),
		CallerAddr: c.Caller.Addr(),
	}
	if !c.End.IsZero() && c.State != Answered {
		d.End = c.End
	}
	if len(c.Streams) > 0 {
		d.Streams = make([]record.StreamStats, 0, len(c.Streams))
	}
	for _, s := range c.Streams {
		cs := s.Completeness()
		d.Streams = append(d.Streams, record.StreamStats{
			SSRC:         fmt.Sprintf("0x%08x", s.Stats.SSRC),
			PayloadType:  s.PT,
			Codec:        s.Codec,
			Dir:          s.Dir.String(),
			Packets:      s.Stats.Packets,
			Lost:         s.Stats.Lost(),
			Duplicates:   s.Stats.Duplicates,
			OutOfOrder:   s.Stats.OutOfOrder,
			JitterMS:     float64(s.Stats.Jitter()) / 1e6,
			MaxJitterMS:  float64(s.Stats.MaxJitter()) / 1e6,
			MOS:          s.Stats.MOS(),
			First:        s.Stats.First.UTC(),
			Last:         s.Stats.Last.UTC(),
			Completeness: &cs,
		})
	}
	p := &d.Personal
	*p = record.Personal{
		CallID: c.CallID, From: c.From, FromName: c.FromName, To: c.To, PAI: c.PAI,
		Events: append([]Event(nil), c.Events...), Tags: append([]string(nil), c.Tags...),
	}
	if c.Caller.IsValid() {
		p.Caller = c.Caller.String()
	}
	if c.Callee.IsValid() {
		p.Callee = c.Callee.String()
	}
	// The numbers of From, To and PAI, each once, sorted.
	pai := ""
	if c.PAI != "" {
		pai = record.NormalizeNumber(string(sip.User([]byte(c.PAI))))
	}
	for _, n := range [3]string{d.FromNumber, d.ToNumber, pai} {
		if n != "" && !slices.Contains(p.Numbers, n) {
			p.Numbers = append(p.Numbers, n)
		}
	}
	sort.Strings(p.Numbers)
	for _, s := range c.Streams {
		p.Streams = append(p.Streams, record.StreamAddrs{Src: s.Src.String(), Dst: s.Dst.String()})
	}
	return d
}

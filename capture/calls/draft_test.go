package calls_test

import (
	"slices"
	"testing"

	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/record"
)

// draftRec keeps the drafts the tracker hands over.
type draftRec struct {
	started, finished, details []*record.Draft
}

func (r *draftRec) Start(d *record.Draft) (calls.Recording, error) {
	r.started = append(r.started, d)
	return r, nil
}
func (r *draftRec) Detail(d *record.Draft) error { r.details = append(r.details, d); return nil }
func (r *draftRec) Write(*calls.Frame) error     { return nil }
func (r *draftRec) Finish(d *record.Draft) error { r.finished = append(r.finished, d); return nil }

// The tracker hands the recorder finished drafts: numbers normalised,
// codecs named, the direction decided, and a draft handed over is not
// changed by what the call does afterwards.
func TestDraftHandedOver(t *testing.T) {
	rec := &draftRec{}
	d := newDialog(t)
	d.tr = calls.NewTracker(calls.Config{Extensions: []string{"2xxx"}}, rec, nil)
	d.tr.Done = func(c *calls.Call) { d.done = append(d.done, c) }
	d.answer()
	d.rtp(mediaA, mediaB, 10, 8, 0)
	d.rtp(mediaB, mediaA, 10, 8, 1)
	d.msg(caller, callee, "BYE sip:2001@example.com SIP/2.0", "2 BYE", ";tag=tt", "")
	d.only()
	if len(rec.started) != 1 || len(rec.finished) != 1 || len(rec.details) != 0 {
		t.Fatalf("%d started, %d finished, %d details; want 1, 1, 0", len(rec.started), len(rec.finished), len(rec.details))
	}
	start, fin := rec.started[0], rec.finished[0]
	// Start comes with the first media packet, already counted.
	if start.CallState != "answered" || !start.End.IsZero() || len(start.Streams) != 1 || start.Streams[0].Packets != 1 {
		t.Errorf("draft at start changed or not a snapshot: state %q, end %v, streams %+v", start.CallState, start.End, start.Streams)
	}
	want := record.Draft{CallState: "ended", Answered: true, EndReason: "bye by caller", Direction: record.Inbound, Line: "2xxx",
		Start: t0, FromNumber: "4930111", ToNumber: "2001", Dialled: "2001", Recorded: true, Class: "default"}
	got := *fin
	if got.CallState != want.CallState || got.Answered != want.Answered || got.EndReason != want.EndReason ||
		got.Direction != want.Direction || got.Line != want.Line || !got.Start.Equal(want.Start) || got.FromNumber != want.FromNumber ||
		got.ToNumber != want.ToNumber || got.Dialled != want.Dialled || got.Recorded != want.Recorded || got.Class != want.Class {
		t.Errorf("final draft %+v\nwant (in part) %+v", got, want)
	}
	if got.End.IsZero() || got.Duration <= 0 {
		t.Errorf("final draft: end %v, duration %v", got.End, got.Duration)
	}
	if !slices.Equal(got.Codecs, []string{"PCMA"}) || got.Formats[101] != "telephone-event" {
		t.Errorf("codecs %v, formats %v", got.Codecs, got.Formats)
	}
	if len(got.Streams) != 2 || got.Streams[0].Codec != "PCMA" || got.Streams[0].Packets != 10 {
		t.Errorf("streams %+v", got.Streams)
	}
	p := got.Personal
	if !slices.Equal(p.Numbers, []string{"2001", "4930111"}) || p.CallID != "c1@test" || p.Caller != caller.String() || len(p.Streams) != 2 {
		t.Errorf("personal %+v", p)
	}
	if !slices.Equal(got.ExternalNumbers(), []string{"4930111"}) {
		t.Errorf("external numbers %v, want the caller's", got.ExternalNumbers())
	}
}

// A dialog without media reaches the recorder as one detail draft.
func TestDraftDetail(t *testing.T) {
	rec := &draftRec{}
	d := newDialog(t)
	d.tr = calls.NewTracker(calls.Config{Extensions: []string{"2xxx"}}, rec, nil)
	d.tr.Done = func(c *calls.Call) { d.done = append(d.done, c) }
	d.msg(caller, callee, "INVITE sip:2001@example.com SIP/2.0", "1 INVITE", "", sdpBody("10.0.0.1", 4000, "sendrecv"))
	d.msg(callee, caller, "SIP/2.0 486 Busy Here", "1 INVITE", ";tag=tt", "")
	d.only()
	if len(rec.details) != 1 || len(rec.started) != 0 {
		t.Fatalf("%d details, %d started", len(rec.details), len(rec.started))
	}
	dr := rec.details[0]
	if dr.CallState != "rejected" || dr.Answered || dr.Recorded || dr.End.IsZero() || dr.CallerAddr != caller.Addr() {
		t.Errorf("detail draft %+v", dr)
	}
}

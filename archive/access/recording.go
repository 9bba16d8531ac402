package access

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/spanvault/spanvault/record"
)

// The recording page (GET /r/{app}/{id}, web/recording.html): the call's
// metadata, retention and hold beside the actions, the four-eyes state
// of every request on it, the level picture with the call's events on one
// time axis (levels.go; web/recording.js seeks the player by click and
// keyboard, and the audio is fetched only when played), and the access
// history for the roles that may read it.
//
// Who sees what: a role that may search sees the page (a view: audited
// and in the history, no audio); a role that may hear calls (mayHear)
// also sees the numbers, the events and the picture; the auditor, who
// may not search, sees the page without personal data (no numbers, no
// events, no picture) but with the access history; the DPO sees the
// history too (Art. 15 reports carry it). Others are refused.

// recordingPage is the page's data.
type recordingPage struct {
	pageHead
	V        *RecordingView
	Zone     *time.Location
	Span     float64    // seconds the picture's time axis spans
	Markers  []marker   // the timeline placed on the picture
	Bands    []band     // holds and pauses as stretches
	Ticks    []tick     // the time axis
	Requests []*Request // four-eyes requests on this recording
	History  []AccessEntry
	Hear     bool // the events and the picture are shown
	Heard    bool // the reader may play (the player is shown)
	ShowHist bool
}

// marker is an event on the picture: x in the picture's 0..1000.
type marker struct {
	TimelineEvent
	X     float64
	Class string // the CSS class that colours its kind
}

// band is a stretch of the call (on hold, recording paused).
type band struct {
	X, W  float64
	Class string
	Label string
	From  float64
}

// tick is a label on the time axis.
type tick struct {
	X      float64
	Label  string
	Anchor string // SVG text-anchor: the first and last labels stay inside
}

// bands pairs hold with unhold and pause with resume; one left open runs
// to the end of the picture.
func bands(ms []marker) []band {
	var out []band
	open := map[string]float64{}
	ends := map[string]string{"unhold": "hold", "resume": "pause"}
	for _, m := range ms {
		switch m.Kind {
		case "hold", "pause":
			if _, ok := open[m.Kind]; !ok {
				open[m.Kind] = m.X
			}
		case "unhold", "resume":
			k := ends[m.Kind]
			if x, ok := open[k]; ok {
				out = append(out, band{X: x, W: max(m.X-x, 1), Class: "band-" + k, Label: k})
				delete(open, k)
			}
		}
	}
	for _, k := range []string{"hold", "pause"} {
		if x, ok := open[k]; ok {
			out = append(out, band{X: x, W: max(1000-x, 1), Class: "band-" + k, Label: k})
		}
	}
	return out
}

// ticks labels the axis every step seconds, at most ten labels.
func ticks(span float64) []tick {
	step := 1.0
	for _, s := range []float64{1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600} {
		step = s
		if span/s <= 10 {
			break
		}
	}
	var out []tick
	for t := 0.0; t <= span; t += step {
		x := t / span * 1000
		a := "middle"
		switch {
		case x < 30:
			a = "start"
		case x > 970:
			a = "end"
		}
		out = append(out, tick{X: x, Label: clock(t), Anchor: a})
	}
	return out
}

// clock writes seconds as m:ss (h:mm:ss from an hour).
func clock(sec float64) string {
	n := int(sec)
	if n >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", n/3600, n/60%60, n%60)
	}
	return fmt.Sprintf("%d:%02d", n/60, n%60)
}

// markerClass groups the event kinds by colour.
func markerClass(kind string) string {
	switch kind {
	case "dtmf":
		return "ev-dtmf"
	case "hold", "unhold":
		return "ev-hold"
	case "pause", "resume":
		return "ev-pause"
	case "consent":
		return "ev-consent"
	case "record_error", "evicted", "anomaly", "media_claim", "nat_source", "media_moved", "gap":
		return "ev-media"
	}
	return "ev-other"
}

// mayReadHistory: the roles that read who accessed a recording.
func mayReadHistory(u *User) bool { return Allowed(u.Role, ActAudit) || u.Role == DPO }

func (s *Service) webRecording(w http.ResponseWriter, r *http.Request, ss *session) {
	app, id := r.PathValue("app"), r.PathValue("id")
	var data recordingPage
	// The route admits any signed-in user: the right is checked here
	// as need would (the auditor's is ActAudit), suspension included.
	act := ActSearch
	if !Allowed(ss.user.Role, ActSearch) && Allowed(ss.user.Role, ActAudit) {
		act = ActAudit
	}
	if !s.check(w, r, ss, act, Object{}) {
		return
	}
	if suspendedFrom(ss.user, act) {
		s.deny(w, r, ss, "suspended pending review: "+ss.user.Suspended)
		return
	}
	if act == ActAudit {
		// The auditor: the recording's record and its history, nothing
		// personal.
		if !s.check(w, r, ss, ActAudit, s.recordingObject(r.Context(), app, id)) {
			return
		}
		rec, err := s.recording(r.Context(), app, id)
		if err != nil {
			s.fail(w, r, ss, err)
			return
		}
		var e struct {
			Direction string  `json:"direction"`
			Duration  float64 `json:"duration_s"`
		}
		if err := storedEntry(rec, &e); err != nil {
			s.fail(w, r, ss, err)
			return
		}
		rec.Sealed = nil
		data.V = &RecordingView{Hit: Hit{Record: *rec, Direction: e.Direction, Duration: e.Duration}}
		s.audit(r.Context(), "view", ss.user.Name, app, "recording "+id+" (record and access history)", false)
		s.accessed(r.Context(), ss.user.Name, accView, app, id)
	} else {
		if cdr := s.callRecord(r.Context(), app, id); cdr != nil {
			s.webCallRecord(w, r, ss, cdr) // callrecord.go
			return
		}
		v, err := s.view(r, ss)
		if err != nil {
			s.fail(w, r, ss, err)
			return
		}
		data.V = v
		data.Hear = mayHear(ss.user)
		data.Heard = Allowed(ss.user.Role, ActPlay)
	}
	data.Zone = s.readerZone(r) // the reader's zone, as every page (shell.go)
	if data.Hear {
		var e record.Entry
		if err := storedEntry(&data.V.Record, &e); err != nil {
			s.fail(w, r, ss, err)
			return
		}
		span := pictureSpan(&e, audioStart(&data.V.Record))
		data.Span = span.Seconds()
		for _, ev := range data.V.Timeline {
			x := min(ev.At/data.Span, 1) * 1000
			data.Markers = append(data.Markers, marker{TimelineEvent: ev, X: x, Class: markerClass(ev.Kind)})
		}
		data.Bands = bands(data.Markers)
		data.Ticks = ticks(data.Span)
	}
	data.Requests = s.requestsOn(r.Context(), ss.user, app, id)
	if mayReadHistory(ss.user) {
		data.ShowHist = true
		data.History = s.accessesOf(r.Context(), app, id)
	}
	s.page(w, r, ss, "recording", data)
}

// requestsOn lists the four-eyes requests on one recording the user may
// see (the last 500 requests are looked at, as on the requests page).
func (s *Service) requestsOn(ctx context.Context, u *User, app, id string) []*Request {
	rs, err := s.requests(ctx, 0)
	if err != nil {
		s.A.Logger.Error("requests of a recording", "err", err)
		return nil
	}
	var out []*Request
	for _, q := range rs {
		if q.Target.Appliance == app && q.Target.Recording == id && s.maysee(u, q) {
			out = append(out, q)
		}
	}
	return out
}

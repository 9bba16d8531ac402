package access

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/internal/httperr"
	"github.com/spanvault/spanvault/record"
)

// DTMF digits are card numbers and PINs (PCI DSS): every view of a call
// (its page, its JSON, search results, subject reports) shows that a key
// was pressed, and when, never which. A role with ActDTMF reveals the
// digits of one call at a time, giving a reason; the reveal is audited
// (dtmf_revealed) and in the recording's access history.

// maskDTMF removes the digit of every key press, keeping its time and side.
func maskDTMF(p *record.Personal) {
	for i := range p.Events {
		if p.Events[i].Kind == "dtmf" {
			p.Events[i].Digit = ""
			p.Events[i].Detail = strings.TrimSpace(p.Events[i].Detail + " (key masked)")
		}
	}
}

// RevealDTMF is POST /api/v1/recordings/BOX/ID/dtmf's body.
type RevealDTMF struct {
	Reason string `json:"reason"`
}

// RevealedDTMF is its answer: the key presses of the call, in order.
type RevealedDTMF struct {
	Keys []RevealedKey `json:"keys"`
}

// RevealedKey is one key press.
type RevealedKey struct {
	At    float64 `json:"at_s"` // seconds from the start of the audio
	Side  string  `json:"side"`
	Digit string  `json:"digit"`
}

const maxReason = 500

// revealDTMF opens a call's sealed metadata with the digits, for a user
// whose role may reveal them, with a reason.
func (s *Service) revealDTMF(ctx context.Context, u *User, app, id, reason string) (*RevealedDTMF, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" || len(reason) > maxReason {
		return nil, httperr.BadRequestf("revealing key presses needs a reason (at most %d characters)", maxReason)
	}
	// Another branch's call is answered like an unknown one (404).
	if err := s.authorize(ctx, u, ActDTMF, s.recordingObject(ctx, app, id)); err != nil {
		return nil, err
	}
	rec, err := s.recording(ctx, app, id)
	if err != nil {
		return nil, err
	}
	if s.Keys == nil {
		return nil, errNoKeys
	}
	out := &RevealedDTMF{Keys: []RevealedKey{}}
	if len(rec.Sealed) > 0 {
		b, err := s.Keys.Decrypt(rec.Sealed)
		if err != nil {
			return nil, fmt.Errorf("%s/%s: sealed metadata: %w", app, id, err)
		}
		var p record.Personal
		if err := json.Unmarshal(b, &p); err != nil {
			return nil, fmt.Errorf("%s/%s: sealed metadata: %w", app, id, err)
		}
		start := audioStart(rec)
		for _, ev := range p.Events {
			if ev.Kind == "dtmf" {
				out.Keys = append(out.Keys, RevealedKey{At: max(0, ev.Time.Sub(start).Seconds()), Side: ev.Detail, Digit: ev.Digit})
			}
		}
	}
	s.audit(ctx, "dtmf_revealed", u.Name, app, fmt.Sprintf("recording %s: %d key presses revealed; reason: %s", id, len(out.Keys), reason), false)
	s.accessed(ctx, u.Name, accDTMF, app, id)
	return out, nil
}

// audioStart is the time of the WAV's first sample (as timeline places
// events).
func audioStart(rec *index.Record) time.Time {
	var e record.Entry
	if err := storedEntry(rec, &e); err != nil {
		slog.Error("access: DTMF timeline", "err", err)
	}
	start := e.Answer
	for _, st := range e.Streams {
		if !st.First.IsZero() && (start.IsZero() || st.First.Before(start)) {
			start = st.First
		}
	}
	if start.IsZero() {
		start = e.Start
	}
	return start
}

func (s *Service) apiRevealDTMF(w http.ResponseWriter, r *http.Request, ss *session) {
	var in RevealDTMF
	if err := decodeBody(r, &in); err != nil {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	out, err := s.revealDTMF(r.Context(), ss.user, r.PathValue("app"), r.PathValue("id"), in.Reason)
	if err != nil {
		s.fail(w, r, ss, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Service) webRevealDTMF(w http.ResponseWriter, r *http.Request, ss *session) {
	app, id := r.PathValue("app"), r.PathValue("id")
	out, err := s.revealDTMF(r.Context(), ss.user, app, id, r.FormValue("reason"))
	if err != nil {
		if msg, ok := shown(err); ok {
			s.renderPage(w, r, ss, http.StatusBadRequest, "message", messagePage{pageHead: pageHead{Title: "Key presses"}, Message: msg})
			return
		}
		s.fail(w, r, ss, err)
		return
	}
	s.page(w, r, ss, "dtmf", dtmfPage{pageHead: pageHead{Title: "Key presses"}, Appliance: app, ID: id, Keys: out.Keys})
}

package access

import (
	"context"
	"net/http"

	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/sync/wire"
)

// A call record (kind cdr) is a call the box kept without audio: the
// search lists it, and its row opens this page, not a player.

// callRecordPage: the call record's clear facts and, for who may hear,
// its sealed metadata.
type callRecordPage struct {
	pageHead
	V *Hit
}

// callRecord is the call record app/id when there is one and no
// recording of that ID (nil otherwise).
func (s *Service) callRecord(ctx context.Context, app, id string) *index.Record {
	if rs, err := s.A.Index.Records(ctx, index.Query{Appliance: app, ID: id, Kind: wire.KindRecording}); err != nil || len(rs) > 0 {
		return nil
	}
	rs, err := s.A.Index.Records(ctx, index.Query{Appliance: app, ID: id, Kind: wire.KindCDR})
	if err != nil || len(rs) == 0 {
		return nil
	}
	return &rs[0]
}

// webCallRecord shows a call record within the user's branches (the
// same refusal as for a recording outside them). An erased call record
// (or one being erased) is refused like an erased recording (410): its
// page shows nothing of it.
func (s *Service) webCallRecord(w http.ResponseWriter, r *http.Request, ss *session, rec *index.Record) {
	o := Object{Kind: "recording", Name: rec.Appliance + "/" + rec.ID, Branches: []string{rec.Appliance}}
	if !s.check(w, r, ss, ActSearch, o) {
		return
	}
	if !rec.DeletedAt.IsZero() || s.erasing(r.Context(), rec.Appliance, rec.ID) {
		s.fail(w, r, ss, errErased)
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
	h := &Hit{Record: *rec, Direction: e.Direction, Duration: e.Duration}
	if mayHear(ss.user) {
		h.Personal = s.personal(rec.Sealed)
	}
	s.audit(r.Context(), "view", ss.user.Name, rec.Appliance, "call record "+rec.ID, false)
	s.page(w, r, ss, "callrecord", callRecordPage{pageHead: pageHead{Title: "Call record"}, V: h})
}

package access

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spanvault/spanvault/record"
)

// lostCapture is the search fact of an entry's completeness record: the
// packets the box missed although they crossed the mirrored wire, or -1
// when the entry has no completeness record (written before the box
// recorded it): not known.
func lostCapture(e *record.Entry) int64 {
	if e.Completeness == nil {
		return -1
	}
	return e.Completeness.LostCapture
}

// backfillCompleteness derives the completeness fact of records indexed
// before the fact existed (index migration 15 left them at -1). Entries
// without a completeness record stay -1. It runs once per start, with
// the blind index's backfill.
func (s *Service) backfillCompleteness(ctx context.Context) error {
	rows, err := s.db().QueryContext(ctx, `SELECT r.appliance, r.id, r.kind, r.entry FROM records r
		JOIN search_facts f ON f.appliance = r.appliance AND f.id = r.id AND f.kind = r.kind
		WHERE f.lost_capture = -1 AND r.entry LIKE '%"completeness"%'`)
	if err != nil {
		return fmt.Errorf("completeness backfill: %w", err)
	}
	type fact struct {
		app, id, kind string
		lost          int64
	}
	var fs []fact
	for rows.Next() {
		var f fact
		var entry string
		if err := rows.Scan(&f.app, &f.id, &f.kind, &entry); err != nil {
			rows.Close()
			return fmt.Errorf("completeness backfill: %w", err)
		}
		var e record.Entry
		if json.Unmarshal([]byte(entry), &e) != nil {
			continue
		}
		if f.lost = lostCapture(&e); f.lost >= 0 {
			fs = append(fs, f)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("completeness backfill: %w", err)
	}
	for _, f := range fs {
		if _, err := s.db().ExecContext(ctx, `UPDATE search_facts SET lost_capture = ? WHERE appliance = ? AND id = ? AND kind = ?`, f.lost, f.app, f.id, f.kind); err != nil {
			return fmt.Errorf("completeness backfill: %w", err)
		}
	}
	return nil
}

// CompletenessView is a recording's completeness record as its page
// shows it: the call's sums and each stream's figures.
type CompletenessView struct {
	Sum     record.Completeness
	Streams []StreamCompletenessView
}

// StreamCompletenessView is one stream's row.
type StreamCompletenessView struct {
	Dir  string
	SSRC string
	record.StreamCompleteness
}

// IncompleteByUs reports whether the recording misses packets that
// crossed the mirrored wire.
func (v *CompletenessView) IncompleteByUs() bool { return v.Sum.IncompleteByUs() }

// Completeness reads the completeness record from the hit's clear entry;
// nil when the entry has none (written before the box recorded it) or
// cannot be read.
func (h *Hit) Completeness() *CompletenessView {
	if h.Entry == "" {
		return nil
	}
	var e record.Entry
	if json.Unmarshal([]byte(h.Entry), &e) != nil || e.Completeness == nil {
		return nil
	}
	v := &CompletenessView{Sum: *e.Completeness}
	for _, s := range e.Streams {
		if s.Completeness != nil {
			v.Streams = append(v.Streams, StreamCompletenessView{Dir: s.Dir, SSRC: s.SSRC, StreamCompleteness: *s.Completeness})
		}
	}
	return v
}

package index

import (
	"context"
	"fmt"
	"strings"
)

// AdmitFact is what admitting one recording record of a box needs from
// the index (archive/owner.go): the object's owner, whether the box's
// recording is indexed already (a repeat) and its hold, whether any
// recording row of the object is on hold, and whether the archive's last
// hold or release command for the recording was a hold.
type AdmitFact struct {
	Owner         string
	Repeat        bool
	RepeatHold    bool
	ObjectHeld    bool
	HoldCommanded bool
}

// AdmitFacts answers, for appliance's recordings ids[i] naming objects
// sums[i], what ObjectOwner, Records (by appliance and id; by object,
// on hold) and HoldCommanded would, in four queries for the whole batch
// instead of five per recording, reading only the columns it needs.
func (x *Index) AdmitFacts(ctx context.Context, appliance string, ids, sums []string) ([]AdmitFact, error) {
	out := make([]AdmitFact, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	owner := map[string]string{}
	repeat := map[string]bool{}
	repeatHold := map[string]bool{}
	held := map[string]bool{}
	cmd := map[string]bool{} // id -> last command was a hold (first seen, newest first)
	seen := map[string]bool{}
	const chunk = 400
	for lo := 0; lo < len(ids); lo += chunk {
		hi := min(lo+chunk, len(ids))
		idArgs, sumArgs := admitArgs(ids[lo:hi]), admitArgs(sums[lo:hi])
		marks := "?" + strings.Repeat(", ?", hi-lo-1)
		if err := x.admitScan(ctx, `SELECT sha256, appliance FROM objects WHERE sha256 IN (`+marks+`)`, sumArgs, func(s func(...any) error) error {
			var sum, app string
			err := s(&sum, &app)
			owner[sum] = app
			return err
		}); err != nil {
			return nil, fmt.Errorf("index: owners: %w", err)
		}
		if err := x.admitScan(ctx, `SELECT id, hold FROM records WHERE appliance = ? AND kind = 'recording' AND id IN (`+marks+`)`, append([]any{appliance}, idArgs...), func(s func(...any) error) error {
			var id string
			var h bool
			err := s(&id, &h)
			repeat[id], repeatHold[id] = true, h
			return err
		}); err != nil {
			return nil, fmt.Errorf("index: indexed recordings: %w", err)
		}
		if err := x.admitScan(ctx, `SELECT DISTINCT sha256 FROM records WHERE kind = 'recording' AND hold AND sha256 IN (`+marks+`)`, sumArgs, func(s func(...any) error) error {
			var sum string
			err := s(&sum)
			held[sum] = true
			return err
		}); err != nil {
			return nil, fmt.Errorf("index: held objects: %w", err)
		}
		if err := x.admitScan(ctx, `SELECT recording, kind FROM commands WHERE appliance = ? AND kind IN ('hold', 'release') AND recording IN (`+marks+`) ORDER BY id DESC`, append([]any{appliance}, idArgs...), func(s func(...any) error) error {
			var id, kind string
			err := s(&id, &kind)
			if !seen[id] {
				seen[id], cmd[id] = true, kind == "hold"
			}
			return err
		}); err != nil {
			return nil, fmt.Errorf("index: hold commands: %w", err)
		}
	}
	for i := range ids {
		out[i] = AdmitFact{Owner: owner[sums[i]], Repeat: repeat[ids[i]], RepeatHold: repeatHold[ids[i]], ObjectHeld: held[sums[i]], HoldCommanded: cmd[ids[i]]}
	}
	return out, nil
}

// admitScan runs q and calls row with each row's Scan.
func (x *Index) admitScan(ctx context.Context, q string, args []any, row func(scan func(...any) error) error) error {
	rows, err := x.db.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

func admitArgs(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

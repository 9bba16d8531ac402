package archive

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/sync/wire"
)

// The archive's own trail (index events) is a plain SHA-256 chain: on
// its own, whoever can write the index can delete entries and recompute
// it. So every entry also goes into the anchor log (AnchorTrail: Serve
// and the access service do it every few seconds), whose tree heads the
// archive signs and keeps, and CheckTrail compares the trail with the log
// at every anchored position. Rows of accesses and requests are checked
// against their entries in the trail.

// anchorBatch is how many trail entries one transaction puts in the log.
const anchorBatch = 5000

// TrailName is the name the archive's trail has in the anchor log.
func (a *Archive) TrailName() string { return "archive:" + a.Config.Name }

// AnchorTrail puts every entry of the archive's trail not yet in the
// anchor log into it, and signs and keeps the log's new tree head.
func (a *Archive) AnchorTrail(ctx context.Context) error {
	total := 0
	for {
		n, err := a.Log.AnchorEvents(ctx, a.TrailName(), anchorBatch)
		if err != nil {
			return fmt.Errorf("archive: anchoring the trail: %w", err)
		}
		total += n
		if n < anchorBatch {
			break
		}
	}
	if total == 0 {
		return nil
	}
	if _, _, _, err := a.Log.Checkpoint(ctx); err != nil {
		return fmt.Errorf("archive: anchoring the trail: %w", err)
	}
	return nil
}

// anchorTrailEvery anchors the trail until ctx ends.
func (a *Archive) anchorTrailEvery(ctx context.Context, d time.Duration) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := a.AnchorTrail(ctx); err != nil && ctx.Err() == nil {
			a.Logger.Error("anchoring the archive's trail", "err", err)
		}
	}
}

// VerifyTrail is CheckTrail as one error (nil: intact), for the
// auditor's page and API.
func (a *Archive) VerifyTrail(ctx context.Context) (int, error) {
	n, ps, err := a.CheckTrail(ctx)
	if err != nil {
		return n, err
	}
	if len(ps) > 0 {
		return n, errors.New(strings.Join(ps, "; "))
	}
	return n, nil
}

// CheckTrail checks the archive's trail: its chain link by link; the
// anchor log against its stored hashes and signed checkpoints; the
// trail's entry at every position the log holds against the log's
// record (the first that differs is named); and the rows of accesses and
// requests against their entries in the trail. It returns the number of
// entries and what is wrong.
func (a *Archive) CheckTrail(ctx context.Context) (int, []string, error) {
	before, err := a.readTables(ctx)
	if err != nil {
		return 0, nil, err
	}
	es, err := a.Index.Events(ctx, "", false)
	if err != nil {
		return 0, nil, err
	}
	var ps []string
	prev := ""
	for i, e := range es {
		if e.ID != int64(i+1) || e.Prev != prev || !index.EventIntact(&e) {
			ps = append(ps, fmt.Sprintf("index: archive audit trail broken at entry %d", e.ID))
			break
		}
		prev = e.Hash
	}
	lc, err := a.Log.CheckLog(ctx)
	if err != nil {
		return len(es), nil, err
	}
	ps = append(ps, lc.Problems...)
	// Each box keeps the last tree it verified (and reports its size at
	// check-in): the log only grows, so it holds at least that many.
	aps, err := a.Index.Appliances(ctx)
	if err != nil {
		return len(es), nil, err
	}
	for _, ap := range aps {
		if ap.TreeSize > int64(len(lc.Records)) {
			ps = append(ps, fmt.Sprintf("anchor log truncated: %s verified a tree of %d records, the log holds %d", ap.Name, ap.TreeSize, len(lc.Records)))
		}
	}
	name := a.TrailName()
	ok := uint64(0) // the last position that agrees with the log
	for _, r := range lc.Records {
		if r.Appliance != name {
			continue
		}
		seq, hash, good := parseAnchorText(r.Text, name)
		if !good {
			ps = append(ps, fmt.Sprintf("anchor log record %d of the archive trail is malformed", r.N))
			break
		}
		if seq <= ok {
			continue
		}
		if seq > uint64(len(es)) || es[seq-1].ID != int64(seq) || es[seq-1].Hash != hash {
			if seq == ok+1 {
				ps = append(ps, fmt.Sprintf("archive trail entry %d missing or altered: head at anchored position %d differs from the log", seq, seq))
			} else {
				ps = append(ps, fmt.Sprintf("archive trail entry %d, or one up to %d, missing or altered: head at anchored position %d differs from the log", ok+1, seq, seq))
			}
			break
		}
		ok = seq
	}
	after, err := a.readTables(ctx)
	if err != nil {
		return len(es), ps, err
	}
	tp, err := a.checkTables(ctx, es, before, after)
	if err != nil {
		return len(es), ps, err
	}
	return len(es), append(ps, tp...), nil
}

// parseAnchorText reads a record wire.AnchorText wrote for name.
func parseAnchorText(text []byte, name string) (uint64, string, bool) {
	f := strings.Split(string(text), "\n")
	if len(f) != 5 || f[1] != name {
		return 0, "", false
	}
	seq, err := strconv.ParseUint(f[2], 10, 64)
	if err != nil || seq == 0 || string(wire.AnchorText(name, seq, f[3])) != string(text) {
		return 0, "", false
	}
	return seq, f[3], true
}

// maxTableProblems is how many rows checkTables names per table.
const maxTableProblems = 10

type accessRow struct{ name, action, app, rec string }

type requestRow struct{ kind, by, decidedBy, state string }

// approvedState: the states a request reaches only through an approval
// (archive/access: approved, applying on the boxes, done, failed, an
// export expired unused).
func approvedState(s string) bool {
	switch s {
	case "approved", "applying", "done", "failed", "expired":
		return true
	}
	return false
}

// tables is a reading of the rows of accesses and requests.
type tables struct {
	accesses map[int64]accessRow
	requests map[int64]requestRow
}

func (a *Archive) readTables(ctx context.Context) (*tables, error) {
	db := a.Index.DB()
	t := &tables{accesses: map[int64]accessRow{}, requests: map[int64]requestRow{}}
	rows, err := db.QueryContext(ctx, `SELECT id, name, action, appliance, recording FROM accesses`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id int64
		var r accessRow
		if err := rows.Scan(&id, &r.name, &r.action, &r.app, &r.rec); err != nil {
			rows.Close()
			return nil, err
		}
		t.accesses[id] = r
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = db.QueryContext(ctx, `SELECT id, action, requested_by, decided_by, state FROM requests`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id int64
		var r requestRow
		if err := rows.Scan(&id, &r.kind, &r.by, &r.decidedBy, &r.state); err != nil {
			rows.Close()
			return nil, err
		}
		t.requests[id] = r
	}
	rows.Close()
	return t, rows.Err()
}

// checkTables checks the rows of accesses and requests against the
// trail: every access entry names its row (as it was written, or marked
// reviewed); every row of accesses since they have entries has one;
// every filed request and every decision in the trail has its row, with
// the same person and outcome; every decided request was decided in the
// trail. Entries are checked against after, read after the trail (every
// entry's row was written before it); rows against before, read before
// the trail (a row's entry is written with it, or just after it).
func (a *Archive) checkTables(ctx context.Context, es []index.Event, before, after *tables) ([]string, error) {
	var ps []string
	var nAcc, nReq int
	addAcc := func(s string) {
		if nAcc++; nAcc <= maxTableProblems {
			ps = append(ps, s)
		}
	}
	addReq := func(s string) {
		if nReq++; nReq <= maxTableProblems {
			ps = append(ps, s)
		}
	}
	legacy, err := a.Index.LegacyAccesses(ctx)
	if err != nil {
		return nil, err
	}
	accesses, requests := after.accesses, after.requests

	seenAcc := map[int64]bool{}
	filed, decided := map[int64]bool{}, map[int64]bool{}
	for _, e := range es {
		switch e.Kind {
		case index.EventAccess:
			var id int64
			if _, err := fmt.Sscanf(e.Detail, "accesses row %d:", &id); err != nil {
				addAcc(fmt.Sprintf("trail entry %d: access entry unreadable", e.ID))
				continue
			}
			seenAcc[id] = true
			r, have := accesses[id]
			okAction := func(act string) bool {
				return index.AccessDetail(id, act, e.Appliance, r.rec) == e.Detail
			}
			if !have || r.name != e.Actor || r.app != e.Appliance || !(okAction(r.action) || okAction(strings.TrimSuffix(r.action, "-reviewed"))) {
				addAcc(fmt.Sprintf("accesses row %d missing or altered: trail entry %d says %q by %s", id, e.ID, e.Detail, e.Actor))
			}
		case "request_filed", "request_approved", "request_rejected":
			var id int64
			var kind string
			if _, err := fmt.Sscanf(e.Detail, "request %d %s", &id, &kind); err != nil {
				addReq(fmt.Sprintf("trail entry %d: request entry unreadable", e.ID))
				continue
			}
			r, have := requests[id]
			bad := !have
			switch e.Kind {
			case "request_filed":
				filed[id] = true
				bad = bad || r.by != e.Actor || r.kind != kind
			case "request_approved":
				decided[id] = true
				bad = bad || r.decidedBy != e.Actor || !approvedState(r.state)
			case "request_rejected":
				decided[id] = true
				bad = bad || r.decidedBy != e.Actor || r.state != "rejected"
			}
			if bad {
				addReq(fmt.Sprintf("requests row %d missing or altered: trail entry %d (%s by %s) does not match it", id, e.ID, e.Kind, e.Actor))
			}
		}
	}
	for _, id := range slices.Sorted(maps.Keys(before.accesses)) {
		if id > legacy && !seenAcc[id] {
			addAcc(fmt.Sprintf("accesses row %d is not in the trail (written behind it)", id))
		}
	}
	for _, id := range slices.Sorted(maps.Keys(before.requests)) {
		r := before.requests[id]
		switch {
		case !filed[id] && r.state != "pending" && r.state != "filed":
			addReq(fmt.Sprintf("requests row %d is not in the trail (written behind it)", id))
		case !decided[id] && (approvedState(r.state) || r.state == "rejected"):
			addReq(fmt.Sprintf("requests row %d is %s but the trail has no decision on it", id, r.state))
		}
	}
	if nAcc > maxTableProblems {
		ps = append(ps, fmt.Sprintf("... and %d more problems with accesses", nAcc-maxTableProblems))
	}
	if nReq > maxTableProblems {
		ps = append(ps, fmt.Sprintf("... and %d more problems with requests", nReq-maxTableProblems))
	}
	return ps, nil
}

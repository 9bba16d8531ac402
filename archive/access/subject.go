package access

import (
	"context"
	"encoding/json"
	"time"

	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/record"
	"github.com/spanvault/spanvault/sync/wire"
)

// SubjectReport answers a data-subject access request (GDPR Art. 15) for
// one or more numbers across every branch the DPO's scope holds: every
// recording and call record, its class, retention and holds, who accessed
// it, and every deletion (tombstones), with the erasure commands' progress.
type SubjectReport struct {
	Generated time.Time       `json:"generated"`
	By        string          `json:"by"`
	Numbers   []string        `json:"numbers"`
	Items     []SubjectItem   `json:"items"`
	Deleted   []SubjectItem   `json:"deleted"`
	Erasures  []index.Command `json:"erasures"`
}

// SubjectItem is one record in a report.
type SubjectItem struct {
	Appliance   string           `json:"branch"`
	ID          string           `json:"id"`
	Kind        string           `json:"kind"`
	Start       time.Time        `json:"start"`
	Class       string           `json:"class"`
	RetainUntil time.Time        `json:"retain_until,omitzero"`
	Hold        bool             `json:"hold"`
	Recorded    bool             `json:"recorded"`
	Direction   string           `json:"direction,omitempty"`
	Duration    float64          `json:"duration_s"`
	DeletedAt   time.Time        `json:"deleted_at,omitzero"`
	Reason      string           `json:"deletion_reason,omitempty"`
	DeletedBy   string           `json:"deleted_by,omitempty"`
	Personal    *record.Personal `json:"personal,omitempty"`
	Accesses    []AccessEntry    `json:"accesses"`
}

// AccessEntry is one access to a recording. Action is view (the page or
// its metadata, no audio), play, stream (through a link Who minted; Via
// names it), export, link (a link minted) or dtmf (key presses
// revealed); What says it in words for the data subject.
type AccessEntry struct {
	Time   time.Time `json:"time"`
	Who    string    `json:"who"`
	Action string    `json:"action"`
	Via    string    `json:"via,omitempty"`
	What   string    `json:"what"`
}

func (s *Service) subjectReport(ctx context.Context, u *User, numbers []string) (*SubjectReport, error) {
	if s.Keys == nil {
		return nil, errNoKeys
	}
	rep := &SubjectReport{Generated: s.now().UTC(), By: u.Name, Numbers: numbers, Items: []SubjectItem{}, Deleted: []SubjectItem{}, Erasures: []index.Command{}}
	var terms []string
	for _, n := range numbers {
		terms = append(terms, s.numberTerms(n)...) // every form (search.go)
	}
	recs, err := s.byTerms(ctx, terms)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	tomb, live := map[string]bool{}, map[string]bool{}
	for _, r := range recs {
		if r.Kind == wire.KindTombstone {
			tomb[r.Appliance+"/"+r.ID] = true
		} else if r.DeletedAt.IsZero() {
			live[r.Appliance+"/"+r.ID] = true // held here, whatever its box let go
		}
	}
	for _, r := range recs {
		if !u.InScope(r.Appliance) {
			continue
		}
		if r.Kind == wire.KindTombstone && live[r.Appliance+"/"+r.ID] {
			continue // the box let its copy go (or its erasure was refused): the archive's is listed
		}
		if r.Kind != wire.KindTombstone && tomb[r.Appliance+"/"+r.ID] && !live[r.Appliance+"/"+r.ID] {
			continue // its tombstone says it all
		}
		var e record.Entry
		if err := storedEntry(&r, &e); err != nil {
			return nil, err
		}
		it := SubjectItem{Appliance: r.Appliance, ID: r.ID, Kind: r.Kind, Start: r.Start, Class: r.Class, RetainUntil: r.RetainUntil,
			Hold: r.Hold, Recorded: r.Recorded, Direction: e.Direction, Duration: e.Duration, DeletedAt: r.DeletedAt, Personal: s.personal(r.Sealed)}
		if r.Kind == wire.KindTombstone {
			var t record.Tombstone
			if err := storedEntry(&r, &t); err != nil {
				return nil, err
			}
			it.Reason, it.DeletedBy, it.DeletedAt = s.erasureReason(&t), t.By, t.DeletedAt
			if it.DeletedAt.IsZero() {
				it.DeletedAt = r.DeletedAt
			}
			it.Recorded = t.SHA256 != ""
		}
		it.Accesses = s.accessesOf(ctx, r.Appliance, r.ID)
		if r.Kind == wire.KindTombstone || !r.DeletedAt.IsZero() {
			rep.Deleted = append(rep.Deleted, it)
		} else {
			rep.Items = append(rep.Items, it)
		}
		if seen[r.Appliance+"/"+r.ID] {
			continue
		}
		seen[r.Appliance+"/"+r.ID] = true
		cmds, _ := s.A.Index.Commands(ctx, r.Appliance, false)
		for _, c := range cmds {
			if c.Recording == r.ID && c.Kind == wire.CmdErase {
				rep.Erasures = append(rep.Erasures, c)
			}
		}
	}
	s.audit(ctx, "subject_report", u.Name, "", s.describe(Search{Number: firstOf(numbers)})+" and "+itoa(len(numbers)-1)+" more numbers: "+itoa(len(rep.Items))+" held, "+itoa(len(rep.Deleted))+" deleted", false)
	return rep, nil
}

func firstOf(ss []string) string {
	if len(ss) == 0 {
		return ""
	}
	return ss[0]
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func (s *Service) accessesOf(ctx context.Context, app, id string) []AccessEntry {
	out := []AccessEntry{}
	rows, err := s.db().QueryContext(ctx, `SELECT time, name, action, via FROM accesses WHERE appliance = ? AND recording = ? ORDER BY id`, app, id)
	if err != nil {
		return out
	}
	defer rows.Close()
	for rows.Next() {
		var a AccessEntry
		var t string
		if err := rows.Scan(&t, &a.Who, &a.Action, &a.Via); err != nil {
			s.A.Logger.Error("access trail of a recording", "appliance", app, "id", id, "err", err)
			break
		}
		a.Time = parseTS(t)
		a.What = accessWords(a.Action, a.Via)
		out = append(out, a)
	}
	return out
}

// SubjectRecords lists every record (tombstones included) of the numbers
// through the blind index: one indexed query, whatever the archive holds.
func (s *Service) SubjectRecords(ctx context.Context, numbers []string) ([]index.Record, error) {
	if s.Keys == nil {
		return nil, errNoKeys
	}
	var terms []string
	for _, n := range numbers {
		terms = append(terms, s.numberTerms(n)...) // every form (search.go)
	}
	return s.byTerms(ctx, terms)
}

package vault

// The retention sweep.

import (
	"bytes"

	"encoding/binary"

	bolt "go.etcd.io/bbolt"

	"github.com/spanvault/spanvault/vault/audit"
	"github.com/spanvault/spanvault/vault/retention"
)

// SweepResult says what a retention sweep did.
type SweepResult struct {
	Deleted  int `json:"deleted"`
	Examined int `json:"examined"`
	// Overdue counts recordings past their maximum age kept because their
	// class must reach the archive first (retention.Overdue): an alert.
	Overdue int    `json:"overdue,omitempty"`
	Skipped string `json:"skipped,omitempty"` // why nothing was done
}

// Sweep deletes what retention says must go by now. It does nothing while
// the clock is not synchronised: a box that boots without NTP may think it
// is 1970 or 2038, and deleting on a wrong clock cannot be undone.
func (v *Vault) Sweep() (SweepResult, error) {
	var res SweepResult
	if !v.opt.ClockSynced() {
		res.Skipped = "clock not synchronised"
		return res, nil
	}
	now := v.opt.Now()
	type due struct {
		id     string
		reason retention.Reason
	}
	var todo []due
	err := v.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bExpiry).Cursor()
		limit := make([]byte, 8)
		binary.BigEndian.PutUint64(limit, uint64(now.Unix())+1)
		for k, _ := c.First(); k != nil && bytes.Compare(k, limit) < 0; k, _ = c.Next() {
			res.Examined++
			id := string(k[8:])
			e, err := getEntry(tx, id)
			if err != nil {
				continue
			}
			cl, _ := v.policy().Class(e.Class)
			facts := retention.Facts{Start: e.Start, AckedAt: e.AckedAt, OnHold: len(e.Holds) > 0}
			r := retention.Due(cl, facts, now)
			if e.State != StateCDR && retention.Overdue(cl, facts, now) {
				res.Overdue++
			}
			if r == retention.Keep && e.State == StateCDR && !e.Expiry.After(now) && len(e.Holds) == 0 {
				r = retention.MaxAge
			}
			if r != retention.Keep {
				todo = append(todo, due{id, r})
			}
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	rs := make([]removal, len(todo))
	for i, d := range todo {
		rs[i] = removal{id: d.id, reason: string(d.reason), by: "retention", action: audit.RetentionDelete}
	}
	errs, err := v.removeMany(rs)
	if err != nil {
		return res, err
	}
	for _, e := range errs {
		if e == nil {
			res.Deleted++
		}
	}
	if res.Deleted > 0 {
		if _, err := v.CompactIfWorth(); err != nil {
			return res, err
		}
	}
	return res, nil
}

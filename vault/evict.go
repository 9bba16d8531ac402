package vault

// Eviction: the oldest acknowledged recordings go when space runs low.

import (
	"encoding/json"
	"sort"

	bolt "go.etcd.io/bbolt"

	"github.com/spanvault/spanvault/vault/audit"
	"github.com/spanvault/spanvault/vault/retention"
)

// Evict deletes, until usage is below the low watermark: call records of
// unanswered dialogs (oldest first, evictunans.go), then what the policy
// allows (synced first, oldest first), then other call records. It returns
// how many it deleted.
func (v *Vault) Evict() (int, error) {
	type cand struct {
		e      Entry
		tier   int
		reason retention.Reason
	}
	var cands []cand
	var records []cand // call records without media
	var unans []Entry  // call records of unanswered dialogs: the first to go
	err := v.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bEntries).ForEach(func(k, val []byte) error {
			var e Entry
			if json.Unmarshal(val, &e) != nil {
				return nil
			}
			if unansweredRecord(&e) {
				unans = append(unans, e)
				return nil
			}
			if !e.Recorded && e.State == StateCDR && len(e.Holds) == 0 {
				// Recording beats call-record keeping: when space runs
				// short, call records go (the archived ones first) before
				// a call is refused.
				tier := 2
				if !e.AckedAt.IsZero() {
					tier = 1
				}
				records = append(records, cand{e, tier, "call records give way to recordings"})
				return nil
			}
			if !e.Recorded || e.Size == 0 || (e.State != StateComplete && e.State != StateTruncated) {
				return nil
			}
			cl, _ := v.policy().Class(e.Class)
			tier, reason := retention.Evictable(cl, retention.Facts{Start: e.Start, AckedAt: e.AckedAt, OnHold: len(e.Holds) > 0})
			if tier > 0 {
				cands = append(cands, cand{e, tier, reason})
			}
			return nil
		})
	})
	if err != nil {
		return 0, err
	}
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].tier != cands[j].tier {
			return cands[i].tier < cands[j].tier
		}
		return cands[i].e.Start.Before(cands[j].e.Start)
	})
	below := func() bool {
		u := v.Usage()
		return u.Fraction < v.opt.LowWater && (u.FSSize == 0 || u.FSFree >= v.opt.MinFreeBytes)
	}
	n, err := v.evictUnanswered(unans, below)
	if err != nil {
		return n, err
	}
	for _, c := range cands {
		if below() {
			return n, nil
		}
		if err := v.remove(c.e.ID, string(c.reason), "quota", audit.QuotaDelete); err != nil {
			return n, err
		}
		n++
	}
	// Then call records, archived ones first, oldest first, in batches;
	// the index gives their pages back only when compacted.
	sort.Slice(records, func(i, j int) bool {
		if records[i].tier != records[j].tier {
			return records[i].tier < records[j].tier
		}
		return records[i].e.Start.Before(records[j].e.Start)
	})
	for lo := 0; lo < len(records) && !below(); lo += 500 {
		batch := records[lo:min(lo+500, len(records))]
		rs := make([]removal, len(batch))
		for i, c := range batch {
			rs[i] = removal{id: c.e.ID, reason: string(c.reason), by: "quota", action: audit.QuotaDelete}
		}
		errs, err := v.removeMany(rs)
		if err != nil {
			return n, err
		}
		for _, e := range errs {
			if e == nil {
				n++
			}
		}
		if _, err := v.Compact(); err != nil {
			return n, err
		}
	}
	if n > 0 {
		if _, err := v.CompactIfWorth(); err != nil {
			return n, err
		}
	}
	return n, nil
}

package vault

import (
	"sort"

	"github.com/spanvault/spanvault/record"
	"github.com/spanvault/spanvault/vault/audit"
)

// Call records of unanswered dialogs are the first thing quota eviction
// removes: before any recording the policy lets go, before the records of
// answered calls. A flood of INVITEs to a real extension writes such
// records (up to FloodLimits.Overall a minute); they never keep a
// recording out. Each removal leaves a tombstone and an audit entry like
// any quota deletion; their count (UnansweredEvicted) is an attack sign.

// unansweredRecord reports whether an entry is the call record of an
// unanswered dialog that eviction may remove: no media, never answered,
// not on hold.
func unansweredRecord(e *Entry) bool {
	if e.Recorded || e.State != StateCDR || len(e.Holds) > 0 {
		return false
	}
	return e.CallState != "" && !record.AnsweredState(e.CallState)
}

// evictUnanswered removes call records of unanswered dialogs, oldest
// first, in batches, until below reports true.
func (v *Vault) evictUnanswered(es []Entry, below func() bool) (int, error) {
	sort.Slice(es, func(i, j int) bool { return es[i].Start.Before(es[j].Start) })
	n := 0
	for lo := 0; lo < len(es) && !below(); lo += 500 {
		batch := es[lo:min(lo+500, len(es))]
		rs := make([]removal, len(batch))
		for i, e := range batch {
			rs[i] = removal{id: e.ID, reason: "call records of unanswered dialogs give way first", by: "quota", action: audit.QuotaDelete}
		}
		errs, err := v.removeMany(rs)
		if err != nil {
			return n, err
		}
		for _, e := range errs {
			if e == nil {
				n++
				v.unansEvicted.Add(1)
			}
		}
		if _, err := v.Compact(); err != nil {
			return n, err
		}
	}
	return n, nil
}

// UnansweredEvicted counts the call records of unanswered dialogs quota
// eviction removed since the vault was opened.
func (v *Vault) UnansweredEvicted() uint64 { return v.unansEvicted.Load() }

package vault

import (
	"strings"
	"testing"

	"github.com/spanvault/spanvault/record"
	"github.com/spanvault/spanvault/record/ledger"
)

func TestLedgerStatus(t *testing.T) {
	for _, tc := range []struct {
		name   string
		e      Entry
		status string
		reason string
	}{
		{"whole", Entry{State: StateComplete}, ledger.StatusComplete, ""},
		{"whole, network loss only", Entry{State: StateComplete, Completeness: &record.Completeness{LostNetwork: 12}}, ledger.StatusComplete, ""},
		{"missed by the capture", Entry{State: StateComplete, Completeness: &record.Completeness{LostCapture: 3}}, ledger.StatusIncomplete, "missed 3 packets"},
		{"truncated", Entry{State: StateTruncated}, ledger.StatusIncomplete, "truncated"},
		{"erased", Entry{State: StateErased}, ledger.StatusErased, ""},
		{"cdr", Entry{State: StateCDR, Note: "not answered"}, ledger.StatusNotRecorded, "not answered"},
	} {
		st, why := LedgerStatus(&tc.e)
		if st != tc.status || !strings.Contains(why, tc.reason) {
			t.Errorf("%s: %q %q, want %q containing %q", tc.name, st, why, tc.status, tc.reason)
		}
	}
}

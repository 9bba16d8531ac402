package appliance

import (
	"slices"
	"testing"
	"time"
)

// The attack state follows its signs: seen while any counter grew within
// AttackFor, one alert when it starts, quiet counters end it.
func TestAttackWatch(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	var w attackWatch
	steps := []struct {
		at        time.Duration
		counts    map[string]uint64
		seen      bool
		alert     bool
		wantSigns []string
	}{
		{0, map[string]uint64{signShed: 0, signClaims: 0}, false, false, nil},
		{time.Minute, map[string]uint64{signShed: 0, signClaims: 0}, false, false, nil},
		{2 * time.Minute, map[string]uint64{signShed: 5, signClaims: 0}, true, true, []string{signShed}},
		{3 * time.Minute, map[string]uint64{signShed: 5, signClaims: 1}, true, false, []string{signClaims, signShed}},
		// The shed sign is 10 minutes old: only the claim remains.
		{12 * time.Minute, map[string]uint64{signShed: 5, signClaims: 1}, true, false, []string{signClaims}},
		{13 * time.Minute, map[string]uint64{signShed: 5, signClaims: 1}, false, false, nil},
		// A new sign after a quiet spell is a new attack: a new alert.
		{20 * time.Minute, map[string]uint64{signShed: 5, signClaims: 1, signConns: 300}, true, true, []string{signConns}},
	}
	for _, s := range steps {
		st, al := w.observe(t0.Add(s.at), s.counts, 7)
		if st.Seen != s.seen || (al != nil) != s.alert || !slices.Equal(st.Signs, s.wantSigns) {
			t.Fatalf("at %v: seen %v alert %v signs %q; want %v %v %q", s.at, st.Seen, al != nil, st.Signs, s.seen, s.alert, s.wantSigns)
		}
		if st.Anomalies != 7 {
			t.Fatalf("anomalies %d", st.Anomalies)
		}
		if s.seen && st.Since.IsZero() {
			t.Fatalf("at %v: seen without a start", s.at)
		}
		if al != nil && (al.Kind != AlertAttack || al.Detail == "") {
			t.Fatalf("alert %+v", al)
		}
	}
}

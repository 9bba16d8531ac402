package appliance

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spanvault/spanvault/vault"
)

// AttackFor is how long the box reports an attack after its last sign.
const AttackFor = 10 * time.Minute

// AlertAttack is raised when the box starts seeing attack traffic (and
// again after AttackFor without a sign).
const AlertAttack = "attack"

// AttackStatus says whether the box saw traffic that only an attacker or a
// broken network sends, and which signs it saw. Recording goes on: each
// sign is something the box bounded (shed, refused, kept out of the
// audio) rather than let it cost a legitimate call. The counts hold no
// personal data.
type AttackStatus struct {
	Seen  bool      `json:"seen"` // a sign grew within AttackFor
	Since time.Time `json:"since,omitzero"`
	Last  time.Time `json:"last,omitzero"`
	Signs []string  `json:"signs,omitempty"` // the signs seen within AttackFor
	// Anomalies counts packets beyond a call's stream or event bounds
	// (spoofed RTP or DTMF into live calls): kept in the call's pcap and
	// flagged on the call, never in its audio.
	Anomalies uint64 `json:"anomalies"`
}

// Attack signs, as the page names them.
const (
	signShed    = "capture state shed to stay within the memory budget"
	signRecords = "call records of unanswered dialogs shed at the writer's bound"
	signClaims  = "SDPs named the media of a live call (hijack attempt)"
	signAnomaly = "RTP or DTMF beyond a call's bounds (spoofed media)"
	signConns   = "connections to the status page refused at the bounds"
	signFlood   = "unanswered INVITE flood (counted per hour, no record each)"
	signEvicted = "call records of unanswered dialogs evicted to make room for recordings"
)

// attackWatch remembers, per sign, the counter's last value and when it
// last grew.
type attackWatch struct {
	last  map[string]uint64
	grew  map[string]time.Time
	since time.Time
	seen  bool
}

// observe records the counters of one refresh and returns the status and
// whether an alert is due (the box just started seeing an attack).
func (w *attackWatch) observe(now time.Time, counts map[string]uint64, anomalies uint64) (AttackStatus, *vault.Alert) {
	if w.last == nil {
		w.last, w.grew = map[string]uint64{}, map[string]time.Time{}
	}
	for sign, n := range counts {
		if n > w.last[sign] {
			w.grew[sign] = now
		}
		w.last[sign] = n
	}
	st := AttackStatus{Anomalies: anomalies}
	for sign, at := range w.grew {
		if now.Sub(at) < AttackFor {
			st.Signs = append(st.Signs, sign)
			if at.After(st.Last) {
				st.Last = at
			}
		}
	}
	slices.Sort(st.Signs)
	st.Seen = len(st.Signs) > 0
	var al *vault.Alert
	if st.Seen && !w.seen {
		w.since = now
		al = &vault.Alert{Time: now, Kind: AlertAttack, Detail: fmt.Sprintf("attack traffic: %s; recording goes on", strings.Join(st.Signs, "; "))}
	}
	w.seen = st.Seen
	if st.Seen {
		st.Since = w.since
	}
	return st, al
}

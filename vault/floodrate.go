package vault

import (
	"net/netip"
	"sync"
	"time"

	"github.com/spanvault/spanvault/record"
)

// One accounting for unanswered dialogs, whatever their parties. A SIP
// scanner enumerating a branch's extensions, or a flood aimed at one real
// extension, makes dialogs with a local party: exempting those from
// aggregation let 45,000 INVITEs to `2999` write 2.1 KB of call record
// each, fill a 48 MB vault and lock every later call out. So every
// unanswered dialog (not answered, nothing stored) is counted per minute
// of its start: per source address, per dialled number and overall. While
// one of these counts is over its limit (this minute, or the minute
// before), the dialogs it counts are aggregated per hour (flood.go), not
// recorded one by one, whatever their parties. The index therefore grows
// by at most FloodLimits.Overall call records of unanswered dialogs a
// minute (twice that over a minute straddling two), under any flood.

// FloodLimits are the unanswered dialogs per minute beyond which such
// dialogs are aggregated instead of recorded one by one.
type FloodLimits struct {
	// PerSource: from one signalling source address (default 120; a PBX
	// is the source of every call it sends, so this is generous).
	PerSource int
	// PerExtension: to one dialled number (default 20).
	PerExtension int
	// Overall: over all sources and numbers (default 300): the bound on
	// the index's growth by call records of unanswered dialogs, about
	// 2.1 KB each.
	Overall int
}

// Defaults of FloodLimits.
const (
	DefaultFloodPerSource    = 120
	DefaultFloodPerExtension = 20
	DefaultFloodOverall      = 300
)

func (l FloodLimits) withDefaults() FloodLimits {
	if l.PerSource <= 0 {
		l.PerSource = DefaultFloodPerSource
	}
	if l.PerExtension <= 0 {
		l.PerExtension = DefaultFloodPerExtension
	}
	if l.Overall <= 0 {
		l.Overall = DefaultFloodOverall
	}
	return l
}

// maxFloodKeys bounds the sources and the numbers counted per minute (a
// flood from random sources to random numbers is caught by the overall
// count); the meter's memory is bounded by it.
const maxFloodKeys = 4096

// floodMeter counts unanswered dialogs per minute of their start.
type floodMeter struct {
	mu     sync.Mutex
	lim    FloodLimits
	minute time.Time // the minute being counted
	all    int
	src    map[netip.Addr]int
	ext    map[string]int
	// hot*: what was over its limit the minute before.
	hotAll bool
	hotSrc map[netip.Addr]bool
	hotExt map[string]bool
}

func newFloodMeter(l FloodLimits) *floodMeter {
	return &floodMeter{lim: l.withDefaults(), src: map[netip.Addr]int{}, ext: map[string]int{}}
}

// unanswered reports whether a call is an unanswered dialog: never
// answered, nothing stored.
func unanswered(c *record.Draft) bool { return !c.Answered && !c.Recorded }

// dialled is the number a dialog was sent to.
func dialled(c *record.Draft) string { return c.Dialled }

// anomalous counts an unanswered dialog and reports whether its source,
// its dialled number or all unanswered dialogs together are over their
// limits this minute or were the minute before.
func (m *floodMeter) anomalous(c *record.Draft) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	min := c.Start.UTC().Truncate(time.Minute)
	if min.After(m.minute) {
		m.roll(min)
	}
	// A dialog starting in an earlier minute (they end out of order) is
	// counted in the current one.
	src := c.CallerAddr.Unmap()
	ext := dialled(c)
	m.all++
	if n, ok := m.src[src]; ok || len(m.src) < maxFloodKeys {
		m.src[src] = n + 1
	}
	if n, ok := m.ext[ext]; ok || len(m.ext) < maxFloodKeys {
		m.ext[ext] = n + 1
	}
	return m.all > m.lim.Overall || m.hotAll ||
		m.src[src] > m.lim.PerSource || m.hotSrc[src] ||
		m.ext[ext] > m.lim.PerExtension || m.hotExt[ext]
}

// roll starts counting minute min.
func (m *floodMeter) roll(min time.Time) {
	next := m.minute.Add(time.Minute).Equal(min)
	m.hotAll = next && m.all > m.lim.Overall
	m.hotSrc, m.hotExt = nil, nil
	if next {
		for k, n := range m.src {
			if n > m.lim.PerSource {
				if m.hotSrc == nil {
					m.hotSrc = map[netip.Addr]bool{}
				}
				m.hotSrc[k] = true
			}
		}
		for k, n := range m.ext {
			if n > m.lim.PerExtension {
				if m.hotExt == nil {
					m.hotExt = map[string]bool{}
				}
				m.hotExt[k] = true
			}
		}
	}
	m.minute, m.all = min, 0
	m.src, m.ext = map[netip.Addr]int{}, map[string]int{}
}

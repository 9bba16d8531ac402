package capture

import (
	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/decode"
)

// Budget is the memory the capture state may grow to: what packets make
// the box hold (dialogs, SIP held before media, fragments of datagrams
// not yet whole, SIP over TCP not yet parsed, the TCP streams themselves). One figure, configured
// (capture.memory_budget), divided here among the structures, each with
// its own bound and its own count of what it shed. Shedding takes attack
// state first: the least recently seen unanswered dialog (and dialogs
// known only from forged-looking responses), SIP held for calls whose
// media never started, the oldest incomplete datagram, the TCP half that
// never completes a message, the least recently seen TCP stream that never
// carried one. Answered calls with media are the last to go.
// The capture rings and the sealing buffers are outside it (they are
// fixed by configuration).
type Budget int64

// DefaultBudget fits a 1 GiB Raspberry Pi with room for the rings (2 x 128
// MiB by default), the vault and the rest.
const DefaultBudget Budget = 256 << 20

// DialogBytes is what one dialog costs at most without SIP held (the
// call, its maps, flows, streams and events within their bounds):
// measured by TestMemoryBudget, rounded up.
const DialogBytes = 4 << 10

// Shares of the budget.
const (
	shareDialogs   = 0.30
	sharePending   = 0.20
	shareFragments = 0.15
	shareTCP       = 0.10
	shareTCPStream = 0.05 // TCP streams themselves (tcpbound.go)
	shareTCPPages  = 0.10 // gopacket's out-of-order segment pages
	shareWriter    = 0.10 // ended dialogs waiting for the vault's writer
	tcpPageBytes   = 2048
)

// Tracker sets the tracker's bounds from the budget.
func (b Budget) Tracker(c *calls.Config) {
	c.MaxCalls = max(64, int(float64(b)*shareDialogs)/DialogBytes)
	c.MaxPendingTotal = max(1<<20, int(float64(b)*sharePending))
	c.MaxPendingBytes = min(256<<10, c.MaxPendingTotal/16)
}

// WriterQueue is how many ended dialogs may wait for the vault's writer
// (beyond it their call records are shed, counted and alerted; finished
// recordings are never shed).
func (b Budget) WriterQueue() int {
	return max(256, int(float64(b)*shareWriter)/DialogBytes)
}

// Decoder sets the decoder's bounds from the budget.
func (b Budget) Decoder(o *decode.Options) {
	o.MaxFragmentBytes = max(1<<20, int(float64(b)*shareFragments))
}

// Pipeline sets the pipeline's bounds from the budget.
func (b Budget) Pipeline(p *Pipeline) {
	p.MaxTCPBytes = max(1<<20, int(float64(b)*shareTCP))
	p.MaxTCPStreams = max(1024, int(float64(b)*shareTCPStream)/TCPStreamBytes)
	p.SetMaxBufferedPages(max(256, int(float64(b)*shareTCPPages)/tcpPageBytes))
}

// Shed is what the capture state gave up to stay within its budget.
type Shed struct {
	Dialogs   uint64 // dialogs ended early (evicted)
	SIPHeld   uint64 // SIP messages not held for calls before media
	Fragments uint64 // incomplete datagrams dropped
	TCP       uint64 // TCP halves that lost their unparsed bytes
}

// (Call records shed at the writer's queue are counted by vault.Async.)

// Shed reports what the pipeline shed so far.
func (p *Pipeline) Shed() Shed {
	return Shed{Dialogs: p.Tracker.Stats.CallsEvicted, SIPHeld: p.Tracker.Stats.PendingOverflow, Fragments: p.Decoder.Stats.FragmentsShed, TCP: p.Stats.TCPShed}
}

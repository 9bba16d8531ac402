package calls

import (
	"net/netip"
	"time"

	"github.com/spanvault/spanvault/capture/decode"
)

// Media that matches no call when it arrives is held for a short while
// (HoldWindow of capture time, at most MaxHeldMedia packets) before it is
// counted as unassociated. Live capture reads several fanout rings, and
// nothing orders one ring's packets against another's: the ring carrying
// a call's SIP may hand its block over only at its retire timeout, after
// the ring carrying the call's RTP has already delivered the first media
// packets. When an SDP then names a held packet's address, the packet is
// given to that call, in capture order, as if it had arrived after the SDP.
//
// The holding area is a fixed ring of slots whose buffers are reused, so
// steady state allocates nothing; when it is full the oldest packet is
// released (counted as unassociated) to make room.

type heldPacket struct {
	pkt     decode.Packet
	frame   []byte
	payload []byte
	frags   []decode.Fragment
	fragBuf [][]byte
}

type heldRing struct {
	slots []heldPacket
	head  int // oldest
	n     int
	// dirty is set when an SDP registered an address that a held packet
	// uses: the next replay point gives them to their call.
	dirty bool
}

func (h *heldRing) full() bool { return h.n == len(h.slots) }

// push copies p into the next slot.
func (h *heldRing) push(p *decode.Packet) {
	s := &h.slots[(h.head+h.n)%len(h.slots)]
	h.n++
	s.frame = append(s.frame[:0], p.Frame...)
	s.payload = append(s.payload[:0], p.Payload...)
	s.frags = s.frags[:0]
	for i, f := range p.Fragments {
		if i >= len(s.fragBuf) {
			s.fragBuf = append(s.fragBuf, nil)
		}
		s.fragBuf[i] = append(s.fragBuf[i][:0], f.Frame...)
		s.frags = append(s.frags, decode.Fragment{Time: f.Time, Frame: s.fragBuf[i]})
	}
	s.pkt = *p
	s.pkt.Frame = s.frame
	s.pkt.Payload = s.payload
	s.pkt.Fragments = s.frags
	s.pkt.TCP = nil
}

func (h *heldRing) at(i int) *heldPacket { return &h.slots[(h.head+i)%len(h.slots)] }

// holdMedia keeps an unmatched packet that looks like RTP or RTCP. It
// reports false when the packet is not worth holding.
func (t *Tracker) holdMedia(p *decode.Packet) bool {
	if t.cfg.MaxHeldMedia < 0 || len(p.Payload) < 12 || p.Payload[0]>>6 != 2 {
		return false
	}
	h := &t.held
	if h.slots == nil {
		h.slots = make([]heldPacket, t.cfg.MaxHeldMedia)
	}
	if h.full() {
		t.releaseHeld(1)
	}
	h.push(p)
	t.Stats.MediaHeld++
	return true
}

// releaseHeld lets go of the n oldest held packets: to the call whose SDP
// names their source (the weaker rule, tried only now: see associate), or
// counted as unassociated. A flow given to a call this way takes its other
// held packets along at once, in order.
func (t *Tracker) releaseHeld(n int) {
	h := &t.held
	for ; n > 0 && h.n > 0; n-- {
		s := h.at(0)
		h.head = (h.head + 1) % len(h.slots)
		h.n--
		k := flowKey{s.pkt.Src, s.pkt.Dst}
		if t.flows[k] != nil || t.associate(k, true) != nil {
			t.Stats.MediaReplayed++
			t.media(&s.pkt)
			h.dirty = true
			continue
		}
		t.unassociated(&s.pkt, k)
	}
	t.replayHeld()
}

// expireHeld releases held packets older than the window at now.
func (t *Tracker) expireHeld(now time.Time) {
	h := &t.held
	n := 0
	for n < h.n && now.Sub(h.at(n).pkt.Time) > t.cfg.HoldWindow {
		n++
	}
	t.releaseHeld(n)
}

// noteEndpoint marks the held packets for replay when one of them uses ep.
func (t *Tracker) noteEndpoint(ep netip.AddrPort) {
	h := &t.held
	if h.dirty {
		return
	}
	for i := 0; i < h.n; i++ {
		p := &h.at(i).pkt
		if p.Src == ep || p.Dst == ep {
			h.dirty = true
			return
		}
	}
}

// replayHeld gives held packets that now match a call to it, oldest first,
// and keeps the rest in order.
func (t *Tracker) replayHeld() {
	h := &t.held
	if !h.dirty {
		return
	}
	h.dirty = false
	kept := 0
	for i := 0; i < h.n; i++ {
		s := h.at(i)
		k := flowKey{s.pkt.Src, s.pkt.Dst}
		if t.flows[k] != nil || t.associate(k, false) != nil {
			t.Stats.MediaReplayed++
			t.media(&s.pkt)
			continue
		}
		if kept != i {
			// Swap slots so that buffers stay owned by exactly one slot.
			d := h.at(kept)
			*d, *s = *s, *d
		}
		kept++
	}
	h.n = kept
}

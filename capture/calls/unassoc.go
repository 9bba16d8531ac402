package calls

// RTP streams that no call explains.

import (
	"strconv"
	"time"

	"github.com/spanvault/spanvault/capture/decode"
	"github.com/spanvault/spanvault/capture/rtpstream"
	"github.com/spanvault/spanvault/capture/sdp"
)

// Unassociated is an RTP stream that no call's SDP explains (RTP without
// SIP, or signalling the box never saw).
type Unassociated struct {
	Stream
	confirmed bool
}

type unassocKey struct {
	flowKey
	ssrc uint32
}

func (t *Tracker) unassociated(p *decode.Packet, k flowKey) {
	t.Stats.Unassociated++
	var h rtpHeader
	if !h.parse(p.Payload) || (h.pt >= 72 && h.pt <= 76) {
		return
	}
	uk := unassocKey{k, h.ssrc}
	u := t.unassoc[uk]
	if u == nil {
		if len(t.unassoc) >= t.cfg.MaxUnassociated {
			t.expireUnassoc(p.Time, true)
		}
		u = &Unassociated{Stream: Stream{Src: p.Src, Dst: p.Dst, PT: h.pt}}
		u.Stats.SSRC = h.ssrc
		if f, ok := sdp.Static(h.pt); ok {
			u.Codec = f.Name
			u.Stats.ClockRate = f.Rate
		} else {
			u.Codec = "PT" + strconv.Itoa(int(h.pt))
		}
		t.unassoc[uk] = u
	}
	u.countPT(h.pt)
	var fl rtpstream.Flags
	if h.marker {
		fl |= rtpstream.Marker
	}
	u.Stats.Add(p.Time, h.seq, h.ts, h.end-h.len, fl)
	// Confirmed RTP: sequence numbers advance (a constant or random
	// field would not) without being too sparse.
	st := &u.Stats
	u.confirmed = st.Packets >= 2 && st.Duplicates*2 < st.Packets && st.Expected() <= int64(st.Packets)*2+16

}

func (t *Tracker) finishUnassoc(u *Unassociated) {
	if u.confirmed && t.UnassocDone != nil {
		t.UnassocDone(u)
	}
}

func (t *Tracker) expireUnassoc(now time.Time, force bool) {
	var oldest unassocKey
	var oldestAt time.Time
	for k, u := range t.unassoc {
		if now.Sub(u.Stats.Last) > t.cfg.MediaTimeout {
			t.finishUnassoc(u)
			delete(t.unassoc, k)
			continue
		}
		if oldestAt.IsZero() || u.Stats.Last.Before(oldestAt) {
			oldest, oldestAt = k, u.Stats.Last
		}
	}
	if force && len(t.unassoc) >= t.cfg.MaxUnassociated {
		t.finishUnassoc(t.unassoc[oldest])
		delete(t.unassoc, oldest)
	}
}

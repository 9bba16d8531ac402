package calls_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/spanvault/spanvault/capture/calls"
)

// Two fanout rings deliver a call's packets out of order: the ring with
// the RTP hands its block over before the ring with the SIP does. Every
// media packet must still end up in the call, none counted unassociated.
func TestMediaBeforeItsSDP(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		run  func(d *dialog)
	}{
		{"callee media before the 200 OK is processed", func(d *dialog) {
			invite := d.now
			d.now = invite.Add(1100 * time.Millisecond)
			// The RTP ring: the callee's first 20 packets, stamped after the 200.
			d.rtp(mediaB, mediaA, 20, 8, 1)
			// The SIP ring, late by its retire timeout.
			d.now = invite
			d.answer()
			d.now = invite.Add(1500 * time.Millisecond)
			d.rtp(mediaB, mediaA, 30, 8, 1)
			d.rtp(mediaA, mediaB, 50, 8, 0)
		}},
		{"both directions before the INVITE is processed", func(d *dialog) {
			invite := d.now
			d.now = invite.Add(1100 * time.Millisecond)
			d.rtp(mediaA, mediaB, 10, 8, 0)
			d.now = invite.Add(1100 * time.Millisecond)
			d.rtp(mediaB, mediaA, 10, 8, 1)
			d.now = invite
			d.answer()
			d.now = invite.Add(1400 * time.Millisecond)
			d.rtp(mediaA, mediaB, 40, 8, 0)
			d.rtp(mediaB, mediaA, 40, 8, 1)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := newDialog(t)
			tc.run(d)
			d.msg(caller, callee, "BYE sip:2001@example.com SIP/2.0", "2 BYE", ";tag=tt", "")
			st := d.tr.Stats
			c := d.only()
			var n uint64
			for _, s := range c.Streams {
				n += s.Stats.Packets
			}
			if n != 100 || len(c.Streams) != 2 {
				t.Fatalf("call holds %d packets in %d streams, want 100 in 2", n, len(c.Streams))
			}
			if st.Unassociated != 0 || st.MediaReplayed == 0 || st.MediaPackets != 100 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

// Media that no SDP explains is counted as unassociated once the hold
// window has passed, and the holding area never exceeds its bound.
func TestHeldMediaExpiresAndIsBounded(t *testing.T) {
	t.Parallel()
	d := newDialog(t)
	d.tr = calls.NewTracker(calls.Config{MaxHeldMedia: 8, HoldWindow: time.Second}, nil, nil)
	stray := netip.MustParseAddrPort("10.9.9.9:7000")
	d.rtp(stray, mediaB, 20, 8, 0) // 20 packets in 400 ms: 12 pushed out by the bound
	if got := d.tr.Stats.Unassociated; got != 12 {
		t.Fatalf("after 20 packets into 8 slots: %d unassociated, want 12", got)
	}
	d.advance(2 * time.Second)
	d.tr.Sweep(d.now)
	if got := d.tr.Stats.Unassociated; got != 20 {
		t.Fatalf("after the window: %d unassociated, want 20", got)
	}
	// An SDP that arrives too late does not claim them.
	d.answer()
	if d.tr.Stats.MediaReplayed != 0 || d.tr.Stats.MediaPackets != 0 {
		t.Fatalf("stats %+v", d.tr.Stats)
	}
}

// Holding unmatched media allocates nothing once the slots are warm.
func TestHeldMediaNoAllocs(t *testing.T) {
	d := newDialog(t)
	stray := netip.MustParseAddrPort("10.9.9.9:7000")
	d.rtp(stray, mediaB, 5000, 8, 0)
	allocs := testing.AllocsPerRun(1000, func() { d.rtp(stray, mediaB, 1, 8, 0) })
	// d.rtp itself allocates the payload (1); the tracker nothing.
	if allocs > 1 {
		t.Fatalf("%v allocs per unmatched packet", allocs)
	}
}

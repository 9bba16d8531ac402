package calls_test

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/sip"
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

// A media server that sends every call's audio from one port (sipp's
// rtp_stream does) makes that port the source address of call A's SDP and
// of every other call's media. When call B's first packets come before
// its INVITE (another fanout ring), they must wait for B's SDP, not latch
// to A by their source: this was the call lost now and then under load
// (its media recorded on another call).
func TestSharedSenderPortNotLatchedBySource(t *testing.T) {
	t.Parallel()
	var done []*calls.Call
	tr := calls.NewTracker(calls.Config{}, nil, nil)
	tr.Done = func(c *calls.Call) { done = append(done, c) }
	d := &dialog{t: t, tr: tr, now: t0}
	server := netip.MustParseAddrPort("10.0.0.2:20000") // the media server's one sending port
	sipMsg := sdpSender(d)
	// Call A: the server answers from 10.0.0.2:20000.
	sipMsg(caller, callee, "INVITE sip:2001@example.com SIP/2.0", "a@test", "1 INVITE", "", sdpBody("10.0.0.1", 41000, "sendrecv"))
	sipMsg(callee, caller, "SIP/2.0 200 OK", "a@test", "1 INVITE", ";tag=tt", sdpBody("10.0.0.2", 20000, "sendrecv"))
	d.send(server, netip.MustParseAddrPort("10.0.0.1:41000"), 10, 8, 1, 0xa)
	// Call B's media from the same server port arrives before B's INVITE.
	bPeer := netip.MustParseAddrPort("10.0.0.1:41168")
	d.send(server, bPeer, 5, 8, 0, 0xb)
	sipMsg(caller, callee, "INVITE sip:2001@example.com SIP/2.0", "b@test", "1 INVITE", "", sdpBody("10.0.0.1", 41168, "sendrecv"))
	sipMsg(callee, caller, "SIP/2.0 200 OK", "b@test", "1 INVITE", ";tag=tt", sdpBody("10.0.0.2", 20002, "sendrecv"))
	d.send(server, bPeer, 5, 8, 0, 0xb)
	tr.Close("end")
	packets := map[string]uint64{}
	for _, c := range done {
		for _, s := range c.Streams {
			packets[c.CallID] += s.Stats.Packets
		}
	}
	if packets["a@test"] != 10 || packets["b@test"] != 10 {
		t.Fatalf("packets per call %v: want a@test 10, b@test 10 (B's early media must not latch to A)", packets)
	}
}

// A call's packets after it ended (a sender that stops a little after the
// BYE) are late media of that call: not held for an SDP to come, not
// given to another call by their source.
func TestLateMediaAfterEnd(t *testing.T) {
	t.Parallel()
	d := newDialog(t)
	d.answer()
	d.rtp(mediaA, mediaB, 10, 8, 0)
	d.rtp(mediaB, mediaA, 10, 8, 1)
	d.msg(caller, callee, "BYE sip:2001@example.com SIP/2.0", "2 BYE", ";tag=tt", "")
	d.advance(5 * time.Second) // past the linger: the call is finished
	d.tr.Sweep(d.now)
	if len(d.done) != 1 {
		t.Fatalf("%d calls ended", len(d.done))
	}
	held := d.tr.Stats.MediaHeld
	d.rtp(mediaB, mediaA, 5, 8, 1)
	if d.tr.Stats.LateMedia != 5 || d.tr.Stats.MediaHeld != held {
		t.Fatalf("late media %d (want 5), held %d more", d.tr.Stats.LateMedia, d.tr.Stats.MediaHeld-held)
	}
	// After the hold window the flow is forgotten: packets are held again
	// (a new call may be about to use the port).
	d.advance(3 * time.Second)
	d.tr.Sweep(d.now)
	d.rtp(mediaB, mediaA, 1, 8, 1)
	if d.tr.Stats.MediaHeld != held+1 {
		t.Fatal("an ended call's flow is remembered past the hold window")
	}
}

// The same shared sending port, and call B's SDP comes after the hold
// window (its SIP was dropped by the kernel, or its ring was seconds
// behind): B's first packets were given to A by their source, the only
// guess there was. From B's SDP on, its media is B's: the flow latched by
// source moves, flagged on both calls (it stayed with A for the rest of
// the call: every call after it was lost under load).
func TestSourceLatchedFlowMovesToItsSDP(t *testing.T) {
	t.Parallel()
	var done []*calls.Call
	tr := calls.NewTracker(calls.Config{HoldWindow: time.Second}, nil, nil)
	tr.Done = func(c *calls.Call) { done = append(done, c) }
	d := &dialog{t: t, tr: tr, now: t0}
	server := netip.MustParseAddrPort("10.0.0.2:20000")
	sipMsg := sdpSender(d)
	sipMsg(caller, callee, "INVITE sip:2001@example.com SIP/2.0", "a@test", "1 INVITE", "", sdpBody("10.0.0.1", 41000, "sendrecv"))
	sipMsg(callee, caller, "SIP/2.0 200 OK", "a@test", "1 INVITE", ";tag=tt", sdpBody("10.0.0.2", 20000, "sendrecv"))
	d.send(server, netip.MustParseAddrPort("10.0.0.1:41000"), 10, 8, 1, 0xa)
	bPeer := netip.MustParseAddrPort("10.0.0.1:41168")
	d.send(server, bPeer, 100, 8, 0, 0xb) // 2 s: past the window, latched to A by source
	sipMsg(caller, callee, "INVITE sip:2001@example.com SIP/2.0", "b@test", "1 INVITE", "", sdpBody("10.0.0.1", 41168, "sendrecv"))
	sipMsg(callee, caller, "SIP/2.0 200 OK", "b@test", "1 INVITE", ";tag=tt", sdpBody("10.0.0.2", 20002, "sendrecv"))
	d.send(server, bPeer, 50, 8, 0, 0xb)
	tr.Close("end")
	packets := map[string]uint64{}
	moved := map[string]bool{}
	for _, c := range done {
		for _, s := range c.Streams {
			packets[c.CallID] += s.Stats.Packets
		}
		for _, e := range c.Events {
			moved[c.CallID] = moved[c.CallID] || e.Kind == calls.EventMediaMoved
		}
	}
	if packets["b@test"] != 50 || packets["a@test"] != 110 || !moved["a@test"] || !moved["b@test"] || tr.Stats.MediaMoved != 1 {
		t.Fatalf("packets per call %v, moved %v, stats %+v: want B's 50 packets after its SDP in B, flagged on both", packets, moved, tr.Stats)
	}
}

// sdpSender returns a function that hands the tracker one SIP message
// with an SDP body, of the call named, at the dialog's clock.
func sdpSender(d *dialog) func(from, to netip.AddrPort, first, callID, cseq, toTag, body string) {
	return func(from, to netip.AddrPort, first, callID, cseq, toTag, body string) {
		s := first + "\r\nCall-ID: " + callID + "\r\nFrom: <sip:+4930111@example.com>;tag=ft\r\nTo: <sip:2001@example.com>" + toTag + "\r\nCSeq: " + cseq + "\r\nContent-Type: application/sdp\r\n"
		s += fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body)
		var m sip.Message
		if _, err := sip.Parse([]byte(s), false, &m); err != nil {
			d.t.Fatal(err)
		}
		d.tr.SIP(&m, d.now, from, to, "udp", nil)
	}
}

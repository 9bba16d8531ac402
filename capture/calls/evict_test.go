package calls_test

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/sip"
)

func invite(t testing.TB, tr *calls.Tracker, id string, at time.Time) {
	s := "INVITE sip:2001@x SIP/2.0\r\nCall-ID: " + id + "\r\nFrom: <sip:+49301@x>;tag=f\r\nTo: <sip:2001@x>\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
	var m sip.Message
	if _, err := sip.Parse([]byte(s), false, &m); err != nil {
		t.Fatal(err)
	}
	tr.SIP(&m, at, caller, callee, "udp", nil)
}

// At MaxCalls, a new dialog evicts the least recently seen unanswered
// one, never an answered call.
func TestEvictionTakesLeastRecentlySeenUnanswered(t *testing.T) {
	t.Parallel()
	var done []*calls.Call
	tr := calls.NewTracker(calls.Config{MaxCalls: 4}, nil, nil)
	tr.Done = func(c *calls.Call) { done = append(done, c) }
	d := &dialog{t: t, tr: tr, now: t0}
	d.answer() // c1@test answered: must survive
	at := t0.Add(2 * time.Second)
	for i := 0; i < 3; i++ {
		invite(t, tr, fmt.Sprint("u", i), at.Add(time.Duration(i)*time.Millisecond))
	}
	// u0 is seen again (a retransmission): u1 is now the least recent.
	invite(t, tr, "u0", at.Add(10*time.Millisecond))
	invite(t, tr, "flood", at.Add(20*time.Millisecond))
	if len(done) != 1 || done[0].CallID != "u1" || done[0].EndReason != "evicted" {
		t.Fatalf("evicted %v", done)
	}
	if tr.Lookup("c1@test") == nil {
		t.Fatal("the answered call was evicted")
	}
}

// BenchmarkInviteFlood: unanswered INVITEs with distinct Call-IDs into a
// full tracker (20,000 dialogs): each evicts one, in O(1).
func BenchmarkInviteFlood(b *testing.B) {
	tr := calls.NewTracker(calls.Config{MaxCalls: 20000}, nil, nil)
	at := t0
	msgs := make([][]byte, 1024)
	for i := range msgs {
		msgs[i] = []byte("INVITE sip:2001@x SIP/2.0\r\nCall-ID: " + fmt.Sprintf("flood-%08d", i) + "\r\nFrom: <sip:+49301@x>;tag=f\r\nTo: <sip:2001@x>\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n")
	}
	for i := 0; i < 20000; i++ {
		invite(b, tr, fmt.Sprint("fill-", i), at)
	}
	src := netip.MustParseAddrPort("192.0.2.1:5060")
	var m sip.Message
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		msg := msgs[i%len(msgs)]
		copy(msg[len("INVITE sip:2001@x SIP/2.0\r\nCall-ID: flood-"):], fmt.Appendf(nil, "%08d", i%100000000))
		sip.Parse(msg, false, &m)
		at = at.Add(time.Microsecond)
		tr.SIP(&m, at, src, callee, "udp", nil)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "invites/s")
}

// A bare 200 OK with SDP (two lines a scanner forges) makes an answered
// dialog, but not one protected from eviction: a flood of them evicts
// each other, never a confirmed call; a call first seen mid-dialog through
// its 200 OK is protected once media flows both ways.
func TestBareOKIsNotProtected(t *testing.T) {
	t.Parallel()
	var done []*calls.Call
	tr := calls.NewTracker(calls.Config{MaxCalls: 8}, nil, nil)
	tr.Done = func(c *calls.Call) { done = append(done, c) }
	d := &dialog{t: t, tr: tr, now: t0}
	d.answer() // c1@test: INVITE, 200, ACK
	// mid@test: capture started mid-dialog, 200 OK retransmitted, media both ways.
	ok := func(id string, at time.Time, port int) {
		s := "SIP/2.0 200 OK\r\nCall-ID: " + id + "\r\nFrom: <sip:+49301@x>;tag=f\r\nTo: <sip:2001@x>;tag=t\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\n"
		body := sdpBody("10.9.0.2", port, "sendrecv")
		s += fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body)
		var m sip.Message
		if _, err := sip.Parse([]byte(s), false, &m); err != nil {
			t.Fatal(err)
		}
		tr.SIP(&m, at, netip.MustParseAddrPort("10.9.0.2:5060"), netip.MustParseAddrPort("10.9.0.1:5060"), "udp", nil)
	}
	d.advance(time.Second)
	ok("mid@test", d.now, 7000)
	midA, midB := netip.MustParseAddrPort("10.9.0.1:7002"), netip.MustParseAddrPort("10.9.0.2:7000")
	d.send(midB, midA, 5, 8, 1, 0x77)
	d.send(midA, midB, 5, 8, 0, 0x78)
	// midA's address is in no SDP: its flows are matched by their source
	// once they were held for the hold window (see associate).
	d.advance(3 * time.Second)
	d.send(midB, midA, 1, 8, 1, 0x77)
	d.send(midA, midB, 1, 8, 0, 0x78)
	if c := tr.Lookup("mid@test"); c == nil || !c.State.Answered() {
		t.Fatal("a dialog seen from its 200 OK is not answered")
	}
	for i := 0; i < 200; i++ {
		ok(fmt.Sprint("bare-", i), d.now.Add(time.Duration(i)*time.Millisecond), 20000+2*i)
	}
	if tr.Lookup("c1@test") == nil || tr.Lookup("mid@test") == nil {
		t.Fatal("a flood of bare 200 OKs evicted a confirmed call")
	}
	evicted := 0
	for _, c := range done {
		if c.EndReason == "evicted" || hasEvent(c, "evicted") {
			evicted++
		}
	}
	if evicted < 190 {
		t.Fatalf("%d bare dialogs evicted, want nearly all 200", evicted)
	}
}

package calls_test

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/decode"
	"github.com/spanvault/spanvault/capture/sip"
	"github.com/spanvault/spanvault/record"
)

var (
	caller = netip.MustParseAddrPort("10.0.0.1:5060")
	callee = netip.MustParseAddrPort("10.0.0.2:5060")
	t0     = time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
)

// dialog drives a tracker with hand-written SIP and RTP.
type dialog struct {
	t    *testing.T
	tr   *calls.Tracker
	done []*calls.Call
	now  time.Time
	seq  [2]uint16
}

func newDialog(t *testing.T) *dialog {
	d := &dialog{t: t, now: t0}
	d.tr = calls.NewTracker(calls.Config{Extensions: []string{"2xxx"}}, nil, nil)
	d.tr.Done = func(c *calls.Call) { d.done = append(d.done, c) }
	return d
}

func sdpBody(ip string, port int, dir string) string {
	return fmt.Sprintf("v=0\r\no=- 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio %d RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=%s\r\n", ip, ip, port, dir)
}

func (d *dialog) msg(from, to netip.AddrPort, first, cseq, toTag, body string) {
	d.t.Helper()
	s := first + "\r\nCall-ID: c1@test\r\nFrom: <sip:+4930111@example.com>;tag=ft\r\nTo: <sip:2001@example.com>" + toTag + "\r\nCSeq: " + cseq + "\r\n"
	if body != "" {
		s += "Content-Type: application/sdp\r\n"
	}
	s += fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body)
	var m sip.Message
	if _, err := sip.Parse([]byte(s), false, &m); err != nil {
		d.t.Fatal(err)
	}
	d.tr.SIP(&m, d.now, from, to, "udp", nil)
}

// calleeRequest sends an in-dialog request from the callee: From and To
// are swapped, as RFC 3261 wants.
func (d *dialog) calleeRequest(first, cseq string) {
	d.t.Helper()
	s := first + "\r\nCall-ID: c1@test\r\nFrom: <sip:2001@example.com>;tag=tt\r\nTo: <sip:+4930111@example.com>;tag=ft\r\nCSeq: " + cseq + "\r\nContent-Length: 0\r\n\r\n"
	var m sip.Message
	if _, err := sip.Parse([]byte(s), false, &m); err != nil {
		d.t.Fatal(err)
	}
	d.tr.SIP(&m, d.now, callee, caller, "udp", nil)
}

func (d *dialog) advance(dt time.Duration) { d.now = d.now.Add(dt) }

// rtp sends n packets of 20 ms from src to dst.
func (d *dialog) rtp(src, dst netip.AddrPort, n int, pt byte, dir int) {
	d.send(src, dst, n, pt, dir, uint32(0x1000+dir))
}

// rtpSSRC sends n PCMA packets caller to callee with a given SSRC.
func (d *dialog) rtpSSRC(src, dst netip.AddrPort, n int, ssrc uint32) {
	d.send(src, dst, n, 8, 0, ssrc)
}

func (d *dialog) send(src, dst netip.AddrPort, n int, pt byte, dir int, ssrc uint32) {
	for i := 0; i < n; i++ {
		pl := make([]byte, 12+160)
		pl[0], pl[1] = 0x80, pt
		binary.BigEndian.PutUint16(pl[2:], d.seq[dir])
		binary.BigEndian.PutUint32(pl[4:], uint32(d.seq[dir])*160)
		binary.BigEndian.PutUint32(pl[8:], ssrc)
		d.seq[dir]++
		d.tr.Media(&decode.Packet{Time: d.now, Frame: pl, Src: src, Dst: dst, Transport: decode.UDP, Payload: pl})
		d.advance(20 * time.Millisecond)
	}
}

var (
	mediaA = netip.MustParseAddrPort("10.0.0.1:4000")
	mediaB = netip.MustParseAddrPort("10.0.0.2:6000")
)

func (d *dialog) answer() {
	d.msg(caller, callee, "INVITE sip:2001@example.com SIP/2.0", "1 INVITE", "", sdpBody("10.0.0.1", 4000, "sendrecv"))
	d.advance(50 * time.Millisecond)
	d.msg(callee, caller, "SIP/2.0 180 Ringing", "1 INVITE", ";tag=tt", "")
	d.advance(time.Second)
	d.msg(callee, caller, "SIP/2.0 200 OK", "1 INVITE", ";tag=tt", sdpBody("10.0.0.2", 6000, "sendrecv"))
	d.msg(caller, callee, "ACK sip:2001@example.com SIP/2.0", "1 ACK", ";tag=tt", "")
}

func (d *dialog) only() *calls.Call {
	d.t.Helper()
	d.tr.Close("capture ended")
	if len(d.done) != 1 {
		d.t.Fatalf("%d calls", len(d.done))
	}
	return d.done[0]
}

func hasEvent(c *calls.Call, kind string) bool {
	for _, e := range c.Events {
		if e.Kind == kind {
			return true
		}
	}
	return false
}

func TestDialogs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		run   func(d *dialog)
		check func(t *testing.T, c *calls.Call)
	}{
		{"answered and hung up", func(d *dialog) {
			d.answer()
			d.rtp(mediaA, mediaB, 50, 8, 0)
			d.rtp(mediaB, mediaA, 50, 8, 1)
			d.calleeRequest("BYE sip:+4930111@10.0.0.1 SIP/2.0", "2 BYE")
		}, func(t *testing.T, c *calls.Call) {
			if c.State != calls.Ended || c.EndReason != "bye by callee" || c.Direction != calls.Inbound || len(c.Streams) != 2 {
				t.Fatalf("%s %q %s %d", c.State, c.EndReason, c.Direction, len(c.Streams))
			}
			if c.Streams[0].Dir == c.Streams[1].Dir || c.Streams[0].Codec != "PCMA" {
				t.Fatal("stream directions or codec wrong")
			}
		}},
		{"cancelled", func(d *dialog) {
			d.msg(caller, callee, "INVITE sip:2001@example.com SIP/2.0", "1 INVITE", "", sdpBody("10.0.0.1", 4000, "sendrecv"))
			d.msg(caller, callee, "CANCEL sip:2001@example.com SIP/2.0", "1 CANCEL", "", "")
			d.msg(callee, caller, "SIP/2.0 487 Request Terminated", "1 INVITE", ";tag=tt", "")
		}, func(t *testing.T, c *calls.Call) {
			if c.State != calls.Cancelled || c.Recorded {
				t.Fatalf("%s recorded=%v", c.State, c.Recorded)
			}
		}},
		{"rejected", func(d *dialog) {
			d.msg(caller, callee, "INVITE sip:2001@example.com SIP/2.0", "1 INVITE", "", sdpBody("10.0.0.1", 4000, "sendrecv"))
			d.msg(callee, caller, "SIP/2.0 486 Busy Here", "1 INVITE", ";tag=tt", "")
		}, func(t *testing.T, c *calls.Call) {
			if c.State != calls.Rejected || c.FinalCode != 486 {
				t.Fatalf("%s %d", c.State, c.FinalCode)
			}
		}},
		{"no BYE: media timeout", func(d *dialog) {
			d.answer()
			d.rtp(mediaA, mediaB, 10, 8, 0)
			d.rtp(mediaB, mediaA, 10, 8, 1)
			d.advance(2 * time.Minute)
			d.rtp(netip.MustParseAddrPort("10.9.9.9:1"), netip.MustParseAddrPort("10.9.9.8:1"), 1, 0, 0) // unrelated traffic moves the clock
		}, func(t *testing.T, c *calls.Call) {
			if c.State != calls.Ended || c.EndReason != "media timeout" {
				t.Fatalf("%s %q", c.State, c.EndReason)
			}
		}},
		{"hold and resume", func(d *dialog) {
			d.answer()
			d.advance(time.Second)
			d.msg(caller, callee, "INVITE sip:2001@example.com SIP/2.0", "2 INVITE", ";tag=tt", sdpBody("10.0.0.1", 4000, "sendonly"))
			d.advance(5 * time.Second)
			d.msg(caller, callee, "INVITE sip:2001@example.com SIP/2.0", "3 INVITE", ";tag=tt", sdpBody("10.0.0.1", 4000, "sendrecv"))
			d.msg(caller, callee, "BYE sip:2001@example.com SIP/2.0", "4 BYE", ";tag=tt", "")
		}, func(t *testing.T, c *calls.Call) {
			if len(c.Holds) != 1 || c.Holds[0].By != calls.AtoB || c.Holds[0].End.Sub(c.Holds[0].Start) != 5*time.Second {
				t.Fatalf("holds %+v", c.Holds)
			}
		}},
		{"NAT: source differs from SDP", func(d *dialog) {
			d.answer()
			// The caller is behind NAT: its packets come from a public
			// address; the callee sends to that address, which no SDP names.
			nat := netip.MustParseAddrPort("203.0.113.7:33333")
			d.rtp(nat, mediaB, 20, 8, 0)
			d.rtp(mediaB, nat, 20, 8, 1)
			d.msg(caller, callee, "BYE sip:2001@example.com SIP/2.0", "2 BYE", ";tag=tt", "")
		}, func(t *testing.T, c *calls.Call) {
			if len(c.Streams) != 2 || c.Streams[0].Dir == c.Streams[1].Dir {
				t.Fatalf("%d streams", len(c.Streams))
			}
		}},
		{"one-way audio is reported", func(d *dialog) {
			d.answer()
			d.rtp(mediaB, mediaA, 50, 8, 1)
			d.msg(caller, callee, "BYE sip:2001@example.com SIP/2.0", "2 BYE", ";tag=tt", "")
		}, func(t *testing.T, c *calls.Call) {
			if !hasEvent(c, calls.GapOneWay) {
				t.Fatalf("events %+v", c.Events)
			}
		}},
		{"answered without media is reported", func(d *dialog) {
			d.answer()
			d.msg(caller, callee, "BYE sip:2001@example.com SIP/2.0", "2 BYE", ";tag=tt", "")
		}, func(t *testing.T, c *calls.Call) {
			if !hasEvent(c, calls.GapNoMedia) {
				t.Fatalf("events %+v", c.Events)
			}
		}},
		{"media stopped long before BYE is reported", func(d *dialog) {
			d.answer()
			d.rtp(mediaA, mediaB, 10, 8, 0)
			d.rtp(mediaB, mediaA, 10, 8, 1)
			d.advance(40 * time.Second)
			d.msg(caller, callee, "BYE sip:2001@example.com SIP/2.0", "2 BYE", ";tag=tt", "")
		}, func(t *testing.T, c *calls.Call) {
			if !hasEvent(c, calls.GapMediaStopped) {
				t.Fatalf("events %+v", c.Events)
			}
		}},
		{"SSRC change mid-call", func(d *dialog) {
			d.answer()
			d.rtp(mediaA, mediaB, 10, 8, 0)
			d.seq[0] += 1000 // a new source restarts its numbering
			d.rtpSSRC(mediaA, mediaB, 10, 0x2222)
			d.msg(caller, callee, "BYE sip:2001@example.com SIP/2.0", "2 BYE", ";tag=tt", "")
		}, func(t *testing.T, c *calls.Call) {
			if len(c.Streams) != 2 || c.Streams[0].Dir != c.Streams[1].Dir || c.Streams[1].Stats.SSRC != 0x2222 {
				t.Fatalf("%d streams", len(c.Streams))
			}
			for _, s := range c.Streams {
				if s.Stats.Packets != 10 || s.Stats.Lost() != 0 {
					t.Fatalf("stream 0x%x: %d packets %d lost", s.Stats.SSRC, s.Stats.Packets, s.Stats.Lost())
				}
			}
		}},
		{"forked answers", func(d *dialog) {
			d.msg(caller, callee, "INVITE sip:2001@example.com SIP/2.0", "1 INVITE", "", sdpBody("10.0.0.1", 4000, "sendrecv"))
			// Two phones ring (a forking proxy); both send early media, one answers.
			d.msg(callee, caller, "SIP/2.0 183 Session Progress", "1 INVITE", ";tag=fork1", sdpBody("10.0.0.2", 6000, "sendrecv"))
			d.msg(callee, caller, "SIP/2.0 183 Session Progress", "1 INVITE", ";tag=fork2", sdpBody("10.0.0.3", 6100, "sendrecv"))
			d.rtp(netip.MustParseAddrPort("10.0.0.3:6100"), mediaA, 5, 8, 1)
			d.msg(callee, caller, "SIP/2.0 200 OK", "1 INVITE", ";tag=fork1", sdpBody("10.0.0.2", 6000, "sendrecv"))
			d.rtp(mediaB, mediaA, 5, 8, 1)
			d.rtp(mediaA, mediaB, 5, 8, 0)
			d.msg(caller, callee, "BYE sip:2001@example.com SIP/2.0", "2 BYE", ";tag=fork1", "")
		}, func(t *testing.T, c *calls.Call) {
			if c.State != calls.Ended || c.ToTag != "fork1" || len(c.Streams) != 3 {
				t.Fatalf("%s tag %q, %d streams", c.State, c.ToTag, len(c.Streams))
			}
		}},
		{"early media on 183", func(d *dialog) {
			d.msg(caller, callee, "INVITE sip:2001@example.com SIP/2.0", "1 INVITE", "", sdpBody("10.0.0.1", 4000, "sendrecv"))
			d.msg(callee, caller, "SIP/2.0 183 Session Progress", "1 INVITE", ";tag=tt", sdpBody("10.0.0.2", 6000, "sendrecv"))
			d.rtp(mediaB, mediaA, 10, 8, 1)
			d.msg(callee, caller, "SIP/2.0 480 Temporarily Unavailable", "1 INVITE", ";tag=tt", "")
		}, func(t *testing.T, c *calls.Call) {
			if c.State != calls.Rejected || len(c.Streams) != 1 || c.Streams[0].Stats.Packets != 10 {
				t.Fatalf("%s %d streams", c.State, len(c.Streams))
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDialog(t)
			tc.run(d)
			tc.check(t, d.only())
		})
	}
}

// TestPauseByCaptureTime: a packet captured after the pause began is not
// stored even if processed later; DTMF in the pause is dropped too.
func TestPauseByCaptureTime(t *testing.T) {
	t.Parallel()
	d := newDialog(t)
	var stored []time.Time
	rec := &memRec{onWrite: func(f *calls.Frame) {
		if f.Kind == calls.KindRTP {
			stored = append(stored, f.Time)
		}
	}}
	d.tr = calls.NewTracker(calls.Config{}, rec, nil)
	d.tr.Done = func(c *calls.Call) { d.done = append(d.done, c) }
	d.answer()
	d.rtp(mediaA, mediaB, 10, 8, 0)
	c := d.tr.Lookup("c1@test")
	pauseAt := d.now
	resumeAt := d.now.Add(200 * time.Millisecond)
	d.tr.SetPaused(c, true, pauseAt)
	d.tr.SetPaused(c, false, resumeAt)
	// Processed after the resume, captured inside the pause.
	d.rtp(mediaA, mediaB, 10, 101, 0)
	d.rtp(mediaA, mediaB, 10, 8, 0)
	for _, at := range stored {
		if !at.Before(pauseAt) && at.Before(resumeAt) {
			t.Fatalf("packet captured at %v stored during the pause", at)
		}
	}
	cc := d.only()
	if hasEvent(cc, "dtmf") || !hasEvent(cc, "pause") || !hasEvent(cc, "resume") {
		t.Fatalf("events %+v", cc.Events)
	}
	if len(stored) != 20 { // 10 before; the 10 DTMF packets fall in the pause; 10 after
		t.Fatalf("%d media packets stored", len(stored))
	}
}

type memRec struct{ onWrite func(*calls.Frame) }

func (m *memRec) Start(*record.Draft) (calls.Recording, error) { return m, nil }
func (m *memRec) Detail(*record.Draft) error                   { return nil }
func (m *memRec) Write(f *calls.Frame) error                   { m.onWrite(f); return nil }
func (m *memRec) Finish(*record.Draft) error                   { return nil }

func TestMatchPattern(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		p, s string
		want bool
	}{
		{"2xxx", "2001", true}, {"2xxx", "20011", false}, {"2xxx", "200a", false},
		{"+4930*", "+4930123", true}, {"+4930*", "+4931", false}, {"", "", true},
	} {
		if got := calls.MatchPattern(tc.p, tc.s); got != tc.want {
			t.Errorf("%q %q: %v", tc.p, tc.s, got)
		}
	}
}

// TestOneStreamPerSSRC: media that moves to another port within a call (a
// re-INVITE) but keeps its SSRC stays one stream per direction, with the
// statistics of all its packets.
func TestOneStreamPerSSRC(t *testing.T) {
	d := newDialog(t)
	d.answer()
	d.rtpSSRC(mediaA, mediaB, 50, 0xabcd)
	d.send(mediaB, mediaA, 50, 8, 1, 0x5555)
	moved := netip.MustParseAddrPort("10.0.0.1:4002")
	d.msg(caller, callee, "INVITE sip:2001@example.com SIP/2.0", "2 INVITE", ";tag=tt", sdpBody("10.0.0.1", 4002, "sendrecv"))
	d.msg(callee, caller, "SIP/2.0 200 OK", "2 INVITE", ";tag=tt", sdpBody("10.0.0.2", 6000, "sendrecv"))
	d.msg(caller, callee, "ACK sip:2001@example.com SIP/2.0", "2 ACK", ";tag=tt", "")
	d.rtpSSRC(moved, mediaB, 50, 0xabcd)
	d.send(mediaB, moved, 50, 8, 1, 0x5555)
	c := d.only()
	per := map[calls.Dir]int{}
	for _, s := range c.Streams {
		per[s.Dir]++
		if s.Stats.Packets != 100 || s.Stats.Lost() != 0 {
			t.Errorf("%v stream 0x%x: %d packets, %d lost; want 100, 0", s.Dir, s.Stats.SSRC, s.Stats.Packets, s.Stats.Lost())
		}
	}
	if len(c.Streams) != 2 || per[calls.AtoB] != 1 || per[calls.BtoA] != 1 {
		t.Fatalf("%d streams (%v), want one per direction", len(c.Streams), per)
	}
}

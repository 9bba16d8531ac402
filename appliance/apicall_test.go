package appliance

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/decode"
	"github.com/spanvault/spanvault/capture/synth"
)

// tokenExt is a token line bound to extensions.
func tokenExt(name, role string, exts ...string) string {
	sum := sha256.Sum256([]byte(name + "-secret"))
	q := make([]string, len(exts))
	for i, e := range exts {
		q[i] = fmt.Sprintf("%q", e)
	}
	return fmt.Sprintf("[[api.token]]\nname = %q\nrole = %q\nsha256 = %q\nextensions = [%s]\n", name, role, hex.EncodeToString(sum[:]), strings.Join(q, ", "))
}

// liveCallAPI is a box with one real answered call in progress (synth
// call 0: customer +49305550000 calls agent extension 20000, media both
// ways for 3 s) and its local API over TLS.
type liveCallAPI struct {
	a    *Appliance
	srv  *httptest.Server
	real string // the real call's Call-ID
	at   time.Time
}

func newLiveCallAPI(t *testing.T) *liveCallAPI {
	t.Helper()
	a := testAppliance(t, tokenExt("desk", "agent", "20000")+tokenExt("desk8", "agent", "20001")+tokenExt("sup", "supervisor", "2xxxx")+tokenLine("admin", "admin"))
	g := synth.New(synth.Config{Calls: 1, Duration: time.Minute})
	var last time.Time
	for f, ok := g.Next(); ok; f, ok = g.Next() {
		if f.Time.After(time.Date(2026, 1, 1, 9, 0, 4, 0, time.UTC)) {
			break // the call is still up
		}
		a.live.P.Handle(f.Data, decode.LinkEthernet, f.Time)
		last = f.Time
	}
	l := &liveCallAPI{a: a, at: last}
	a.live.P.Tracker.Calls(func(c *calls.Call) { l.real = c.CallID })
	if l.real == "" {
		t.Fatal("no call in progress")
	}
	if c := a.live.P.Tracker.Lookup(l.real); c.State != calls.Answered || c.RecordingID() == "" {
		t.Fatalf("real call %s, recording %q", c.State, c.RecordingID())
	}
	l.srv = httptest.NewTLSServer(a.APIHandler())
	t.Cleanup(l.srv.Close)
	return l
}

// forge feeds a lone INVITE from an outsider's address.
func (l *liveCallAPI) forge(callID, from, to string) {
	l.at = l.at.Add(100 * time.Millisecond)
	src := netip.MustParseAddrPort("10.66.0.1:5060")
	dst := netip.MustParseAddrPort("10.2.0.1:5060")
	sdp := "v=0\r\no=- 1 1 IN IP4 10.66.0.1\r\ns=-\r\nc=IN IP4 10.66.0.1\r\nt=0 0\r\nm=audio 31000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n"
	msg := fmt.Sprintf("INVITE sip:%s@10.2.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.66.0.1:5060;branch=z9hG4bKforged%d\r\nMax-Forwards: 70\r\n"+
		"From: <sip:%s@10.66.0.1>;tag=forged\r\nTo: <sip:%s@10.2.0.1>\r\nCall-ID: %s\r\nCSeq: 1 INVITE\r\nContact: <sip:%s@10.66.0.1:5060>\r\n"+
		"Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s", to, l.at.UnixNano(), from, to, callID, from, len(sdp), sdp)
	l.a.live.P.Handle(udpFrame(src, dst, []byte(msg)), decode.LinkEthernet, l.at)
}

// forgeAnswered plays a whole forged call to the agent's extension: an
// INVITE, a 200 OK, an ACK and RTP both ways, all from outsiders'
// addresses.
func (l *liveCallAPI) forgeAnswered(callID, ext string) {
	a := netip.MustParseAddrPort("10.66.0.1:5060")
	b := netip.MustParseAddrPort("10.66.0.2:5060")
	sdp := func(ip string, port int) string {
		return fmt.Sprintf("v=0\r\no=- 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio %d RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n", ip, ip, port)
	}
	hdrs := func(first, toTag, cseq, body string) string {
		return fmt.Sprintf("%s\r\nVia: SIP/2.0/UDP 10.66.0.1:5060;branch=z9hG4bKforged\r\nFrom: <sip:+4930999111@10.66.0.1>;tag=forged\r\nTo: <sip:%s@10.66.0.2>%s\r\n"+
			"Call-ID: %s\r\nCSeq: %s\r\nContact: <sip:x@10.66.0.1:5060>\r\nContent-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s", first, ext, toTag, callID, cseq, len(body), body)
	}
	send := func(src, dst netip.AddrPort, b []byte) {
		l.at = l.at.Add(20 * time.Millisecond)
		l.a.live.P.Handle(udpFrame(src, dst, b), decode.LinkEthernet, l.at)
	}
	send(a, b, []byte(hdrs("INVITE sip:"+ext+"@10.66.0.2 SIP/2.0", "", "1 INVITE", sdp("10.66.0.1", 31000))))
	send(b, a, []byte(hdrs("SIP/2.0 200 OK", ";tag=callee", "1 INVITE", sdp("10.66.0.2", 32000))))
	send(a, b, []byte(hdrs("ACK sip:"+ext+"@10.66.0.2 SIP/2.0", ";tag=callee", "1 ACK", "")))
	ra, rb := netip.MustParseAddrPort("10.66.0.1:31000"), netip.MustParseAddrPort("10.66.0.2:32000")
	for i := 0; i < 10; i++ {
		for d, ssrc := range []uint32{0x1111, 0x2222} {
			p := make([]byte, 12+160)
			p[0], p[1] = 0x80, 8
			binary.BigEndian.PutUint16(p[2:], uint16(100+i))
			binary.BigEndian.PutUint32(p[4:], uint32(1000+160*i))
			binary.BigEndian.PutUint32(p[8:], ssrc)
			if d == 0 {
				send(ra, rb, p)
			} else {
				send(rb, ra, p)
			}
		}
	}
}

func udpFrame(src, dst netip.AddrPort, payload []byte) []byte {
	eth := &layers.Ethernet{SrcMAC: []byte{2, 0, 0, 0, 0, 0x66}, DstMAC: []byte{2, 0, 0, 0, 0, 0x0b}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
	udp := &layers.UDP{SrcPort: layers.UDPPort(src.Port()), DstPort: layers.UDPPort(dst.Port())}
	udp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, udp, gopacket.Payload(payload))
	return buf.Bytes()
}

func (l *liveCallAPI) post(t *testing.T, action, who, call string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", l.srv.URL+"/api/v1/"+action, strings.NewReader(fmt.Sprintf(`{"call": %q}`, call)))
	req.Header.Set("Authorization", "Bearer "+who+"-secret")
	resp, err := l.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (l *liveCallAPI) paused(id string) bool {
	l.a.live.Mu.Lock()
	defer l.a.live.Mu.Unlock()
	c := l.a.live.P.Tracker.Lookup(id)
	return c != nil && c.Paused
}

// TestPauseNotRedirected: a forged INVITE naming the agent's extension
// beside the agent's real answered call cannot take the agent's pause:
// the real call is paused (and named in the answer), or the API refuses
// with 409; the forged dialog is never paused with a 200.
func TestPauseNotRedirected(t *testing.T) {
	for _, tc := range []struct{ name, callID, from, to string }{
		{"From: the agent", "forged-from@evil", "20000", "+4930999111"},
		{"To: the agent", "forged-to@evil", "+4930999111", "20000"},
		{"Call-ID equal to the extension", "20000", "20000", "+4930999111"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLiveCallAPI(t)
			l.forge(tc.callID, tc.from, tc.to)
			if l.a.live.P.Tracker.Lookup(tc.callID) == nil {
				t.Fatal("the forged INVITE made no dialog")
			}
			code, body := l.post(t, "pause", "desk", "20000")
			switch {
			case l.paused(tc.callID):
				t.Fatalf("the forged dialog was paused (%d %s); the real call paused: %v", code, body, l.paused(l.real))
			case code == http.StatusOK:
				var r map[string]any
				json.Unmarshal([]byte(body), &r)
				if !l.paused(l.real) || r["call_id"] != l.real {
					t.Fatalf("200 %s, but the real call paused: %v", body, l.paused(l.real))
				}
			case code == http.StatusConflict:
				if l.paused(l.real) {
					t.Fatal("409 but a call was paused")
				}
			default:
				t.Fatalf("%d %s", code, body)
			}
		})
	}
	// A whole forged call (answered, media both ways) beside the real
	// one: the extension names two calls alike; the API refuses with 409,
	// pauses nothing and audits the refusal with a recording.
	t.Run("a forged answered call with media", func(t *testing.T) {
		l := newLiveCallAPI(t)
		l.forgeAnswered("forged-answered@evil", "20000")
		if c := l.a.live.P.Tracker.Lookup("forged-answered@evil"); c == nil || c.State != calls.Answered {
			t.Fatal("the forged call was not answered")
		}
		code, body := l.post(t, "pause", "desk", "20000")
		if l.paused("forged-answered@evil") {
			t.Fatalf("the forged call was paused: %d %s", code, body)
		}
		if code == http.StatusOK && (!l.paused(l.real) || !strings.Contains(body, l.real)) {
			t.Fatalf("200 %s, but the real call paused: %v", body, l.paused(l.real))
		}
		if code != http.StatusOK && code != http.StatusConflict {
			t.Fatalf("%d %s", code, body)
		}
		if code == http.StatusConflict {
			es, _ := l.a.v.AuditEntries(0, 1000)
			if e := es[len(es)-1]; e.Action != "api_denied" || e.Recording == "" {
				t.Fatalf("409 audited as %+v", e)
			}
		}
		// By its Call-ID the real call is still paused at once.
		if code, body := l.post(t, "pause", "desk", l.real); code != 200 || !l.paused(l.real) {
			t.Fatalf("pause by Call-ID: %d %s", code, body)
		}
	})
	// Without a forged dialog the agent's pause by extension just works.
	l := newLiveCallAPI(t)
	if code, body := l.post(t, "pause", "desk", "20000"); code != 200 || !l.paused(l.real) || !strings.Contains(body, l.real) {
		t.Fatalf("plain pause: %d %s", code, body)
	}
}

// TestAPIRefusalsNoOracle: another agent's Call-ID and a Call-ID of no
// call get the same refusal; every api_denied entry names the recording
// of a call that has one; only the call's agent gives consent.
func TestAPIRefusalsNoOracle(t *testing.T) {
	t.Run("same refusal for a foreign and an unknown call", func(t *testing.T) {
		l := newLiveCallAPI(t)
		c1, b1 := l.post(t, "pause", "desk8", l.real)
		c2, b2 := l.post(t, "pause", "desk8", "no-such-call@nowhere")
		c3, b3 := l.post(t, "pause", "desk8", "+49305550000")
		if c1 != http.StatusForbidden || c1 != c2 || b1 != b2 || c1 != c3 || b1 != b3 {
			t.Fatalf("another agent's call: %d %s; no call: %d %s; a customer's number: %d %s", c1, b1, c2, b2, c3, b3)
		}
		if l.paused(l.real) {
			t.Fatal("desk8 paused desk's call")
		}
	})
	t.Run("consent only by the call's agent", func(t *testing.T) {
		l := newLiveCallAPI(t)
		if code, body := l.post(t, "consent", "sup", "20000"); code != http.StatusForbidden {
			t.Errorf("a supervisor of the agent's group gave consent: %d %s", code, body)
		}
		if code, body := l.post(t, "consent", "admin", l.real); code != http.StatusForbidden {
			t.Errorf("an admin gave consent: %d %s", code, body)
		}
		if code, body := l.post(t, "consent", "desk8", l.real); code != http.StatusForbidden {
			t.Errorf("another agent gave consent: %d %s", code, body)
		}
		if code, body := l.post(t, "consent", "desk", "20000"); code != 200 || !strings.Contains(body, `"consented":true`) {
			t.Errorf("the call's agent: %d %s", code, body)
		}
	})
	t.Run("api_denied names the recording", func(t *testing.T) {
		l := newLiveCallAPI(t)
		rec := l.a.live.P.Tracker.Lookup(l.real).RecordingID()
		l.post(t, "pause", "desk8", l.real)                 // another agent's call
		l.post(t, "pause", "desk8", "no-such-call@nowhere") // no call
		l.post(t, "tag", "desk8", l.real)                   // (400: no tag, not audited)
		l.post(t, "consent", "desk8", l.real)               // another agent's call
		l.post(t, "consent", "sup", "20000")                // the agent's supervisor
		es, err := l.a.v.AuditEntries(0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		var denied []string
		for _, e := range es {
			if e.Action == "api_denied" {
				denied = append(denied, e.Recording)
			}
		}
		want := []string{rec, "", rec, rec}
		if fmt.Sprint(denied) != fmt.Sprint(want) {
			t.Fatalf("api_denied recordings %q, want %q", denied, want)
		}
	})
}

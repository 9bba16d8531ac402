package sdp_test

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/spanvault/spanvault/capture/internal/corpus"
	"github.com/spanvault/spanvault/capture/sdp"
)

const offer = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n" +
	"m=audio 49170 RTP/AVP 0 8 9 101 111\r\na=rtpmap:101 telephone-event/8000\r\na=rtpmap:111 opus/48000/2\r\n" +
	"a=ptime:20\r\na=rtcp:49200 IN IP4 192.0.2.9\r\na=sendonly\r\n" +
	"m=video 0 RTP/AVP 31\r\n" +
	"m=image 6000 udptl t38\r\nc=IN IP4 192.0.2.7\r\n"

func TestParse(t *testing.T) {
	t.Parallel()
	s, err := sdp.Parse([]byte(offer))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Media) != 3 {
		t.Fatalf("%d media", len(s.Media))
	}
	a := s.Media[0]
	ep, ok := a.Endpoint()
	if !ok || ep != netip.MustParseAddrPort("192.0.2.1:49170") {
		t.Fatalf("endpoint %v", ep)
	}
	if r, _ := a.RTCPEndpoint(); r != netip.MustParseAddrPort("192.0.2.9:49200") {
		t.Fatalf("rtcp %v", r)
	}
	if f, _ := a.Format(101); f.Name != "telephone-event" || f.Rate != 8000 {
		t.Fatalf("101 = %+v", f)
	}
	if f, _ := a.Format(111); f.Name != "opus" || f.Rate != 48000 || f.Channels != 2 {
		t.Fatalf("111 = %+v", f)
	}
	if f, _ := a.Format(9); f.Name != "G722" {
		t.Fatalf("static 9 = %+v", f)
	}
	if !a.OnHold() || a.Ptime != 20 {
		t.Fatal("sendonly not hold / ptime")
	}
	if _, ok := s.Media[1].Endpoint(); ok {
		t.Fatal("port 0 has an endpoint")
	}
	if ep, _ := s.Media[2].Endpoint(); ep.Addr() != netip.MustParseAddr("192.0.2.7") {
		t.Fatal("media-level c= not applied")
	}
}

func TestHoldByZeroAddress(t *testing.T) {
	t.Parallel()
	s, err := sdp.Parse([]byte("v=0\r\nc=IN IP4 0.0.0.0\r\nm=audio 4000 RTP/AVP 0\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !s.Media[0].OnHold() {
		t.Fatal("0.0.0.0 not treated as hold")
	}
	if _, ok := s.Media[0].Endpoint(); ok {
		t.Fatal("0.0.0.0 has an endpoint")
	}
}

func TestNoMedia(t *testing.T) {
	t.Parallel()
	if _, err := sdp.Parse([]byte("v=0\r\ns=-\r\n")); err != sdp.ErrNoMedia {
		t.Fatal(err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(offer))
	for _, p := range corpus.UDPPayloads(func(b []byte) bool { return bytes.Contains(b, []byte("\nm=")) }) {
		if i := bytes.Index(p, []byte("v=0")); i >= 0 {
			f.Add(p[i:])
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := sdp.Parse(b)
		if err != nil {
			return
		}
		for i := range s.Media {
			s.Media[i].Endpoint()
			s.Media[i].RTCPEndpoint()
			s.Media[i].Format(101)
		}
	})
}

package sip_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/spanvault/spanvault/capture/internal/corpus"
	"github.com/spanvault/spanvault/capture/sip"
)

const invite = "INVITE sip:bob@example.com SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\n" +
	"f: \"Alice\" <sip:+4930123@example.com>;tag=abc\r\n" +
	"t: <sip:bob@example.com>\r\n" +
	"i: call-1@192.0.2.1\r\n" +
	"CSeq: 7 INVITE\r\n" +
	"m: <sip:alice@192.0.2.1>\r\n" +
	"P-Asserted-Identity: <tel:+4930123>\r\n" +
	"c: application/sdp\r\n" +
	"l: 10\r\n\r\nv=0\r\ns=-\r\n"

const multipart = "SIP/2.0 200 OK\r\nCall-ID: mp\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCSeq: 1 INVITE\r\n" +
	"Content-Type: multipart/mixed;boundary=\"b1\"\r\nContent-Length: 107\r\n\r\n" +
	"--b1\r\nContent-Type: application/sdp\r\n\r\nv=0\r\nm=audio 4000 RTP/AVP 0\r\n" +
	"--b1\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b1--"

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		in     string
		stream bool
		err    error
		check  func(t *testing.T, m *sip.Message, n int)
	}{
		{"compact headers", invite, false, nil, func(t *testing.T, m *sip.Message, n int) {
			if string(m.Method) != "INVITE" || string(m.CallID) != "call-1@192.0.2.1" || string(m.From.Tag) != "abc" ||
				string(m.From.Display) != "Alice" || string(m.To.URI) != "sip:bob@example.com" || m.CSeq != 7 ||
				string(m.PAI) != "tel:+4930123" || string(m.Contact) != "sip:alice@192.0.2.1" || string(m.Body) != "v=0\r\ns=-\r\n" {
				t.Fatalf("%+v", m)
			}
			if string(sip.User(m.From.URI)) != "+4930123" || string(sip.User(m.PAI)) != "+4930123" {
				t.Fatal("user part")
			}
			if n != len(invite) {
				t.Fatalf("consumed %d of %d", n, len(invite))
			}
		}},
		{"response", "SIP/2.0 486 Busy Here\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n", false, nil, func(t *testing.T, m *sip.Message, n int) {
			if m.StatusCode != 486 || string(m.Method) != "INVITE" || string(m.Reason) != "Busy Here" {
				t.Fatalf("%+v", m)
			}
		}},
		{"multipart body", multipart, false, nil, func(t *testing.T, m *sip.Message, n int) {
			if sdp := m.SDPBody(); !bytes.HasPrefix(sdp, []byte("v=0")) || !bytes.Contains(sdp, []byte("m=audio 4000")) {
				t.Fatalf("sdp part %q", sdp)
			}
		}},
		{"stream incomplete body", invite[:len(invite)-3], true, sip.ErrIncomplete, nil},
		{"stream incomplete headers", invite[:40], true, sip.ErrIncomplete, nil},
		{"two messages in one segment", invite + invite, true, nil, func(t *testing.T, m *sip.Message, n int) {
			if n != len(invite) {
				t.Fatalf("first message consumed %d, want %d", n, len(invite))
			}
		}},
		{"keep-alive before message", "\r\n\r\n" + invite, true, nil, func(t *testing.T, m *sip.Message, n int) {
			if n != len(invite)+4 {
				t.Fatalf("consumed %d", n)
			}
		}},
		{"rtp", "\x80\x08\x00\x01abcdefgh", false, sip.ErrNotSIP, nil},
		{"http", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", false, sip.ErrNotSIP, nil},
		{"no call-id", "OPTIONS sip:x SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n", false, sip.ErrMalformed, nil},
		{"bad status", "SIP/2.0 99x Nope\r\nCall-ID: y\r\n\r\n", false, sip.ErrNotSIP, nil},
		{"huge content-length", "MESSAGE sip:x SIP/2.0\r\nCall-ID: z\r\nContent-Length: 99999999\r\n\r\n", true, sip.ErrMalformed, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m sip.Message
			n, err := sip.Parse([]byte(tc.in), tc.stream, &m)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if tc.check != nil && err == nil {
				tc.check(t, &m, n)
			}
		})
	}
}

func TestNameAddr(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][3]string{
		`"A B" <sip:a@x;user=phone>;tag=9;foo`: {"A B", "sip:a@x;user=phone", "9"},
		`sip:a@x;tag=7`:                        {"", "sip:a@x", "7"},
		`<sip:a@x>`:                            {"", "sip:a@x", ""},
		`<sip:broken`:                          {"", "sip:broken", ""},
	} {
		na := sip.ParseNameAddr([]byte(in))
		if string(na.Display) != want[0] || string(na.URI) != want[1] || string(na.Tag) != want[2] {
			t.Errorf("%q: %q %q %q", in, na.Display, na.URI, na.Tag)
		}
	}
}

// FuzzParse: no input makes the parser panic, and what it returns lies
// within the input.
func FuzzParse(f *testing.F) {
	f.Add([]byte(invite), false)
	f.Add([]byte(multipart), true)
	for _, p := range corpus.UDPPayloads(sip.Looks) {
		f.Add(p, false)
	}
	f.Fuzz(func(t *testing.T, b []byte, stream bool) {
		var m sip.Message
		n, err := sip.Parse(b, stream, &m)
		if err == nil && (n < 0 || n > len(b)) {
			t.Fatalf("consumed %d of %d", n, len(b))
		}
		m.SDPBody()
		sip.User(m.From.URI)
	})
}

func TestCallIDWithControlCharactersRefused(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"a\x00b@x", "a b@x", "a\x7f@x", "a\x01"} {
		msg := "INVITE sip:1@x SIP/2.0\r\nCall-ID: " + id + "\r\nFrom: <sip:2@x>;tag=a\r\nTo: <sip:1@x>\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
		var m sip.Message
		if _, err := sip.Parse([]byte(msg), false, &m); err == nil {
			t.Errorf("Call-ID %q accepted", id)
		}
	}
}

package sdp

import (
	"bytes"
	"errors"
	"net/netip"
	"strconv"
	"strings"
)

// ErrNoMedia is returned for a body that describes no media stream.
var ErrNoMedia = errors.New("sdp: no media description")

// Direction is a media direction attribute.
type Direction uint8

// Directions (RFC 3264 section 5.1). The zero value means sendrecv.
const (
	SendRecv Direction = iota
	SendOnly
	RecvOnly
	Inactive
)

func (d Direction) String() string {
	return [...]string{"sendrecv", "sendonly", "recvonly", "inactive"}[d]
}

// Format is one rtpmap entry.
type Format struct {
	PT       uint8
	Name     string // encoding name as written, e.g. "PCMA", "telephone-event", "opus"
	Rate     int    // clock rate in Hz
	Channels int
}

// Media is one m= line with its attributes.
type Media struct {
	Type      string // audio, video, image, ...
	Port      int
	Proto     string // RTP/AVP, RTP/SAVP, udptl, ...
	Addr      netip.Addr
	RTCPPort  int
	RTCPAddr  netip.Addr
	Formats   []Format // in m= line order
	Direction Direction
	Ptime     int
}

// Session is a parsed SDP body.
type Session struct {
	Origin string
	Addr   netip.Addr // session-level c=
	Media  []Media
}

// Endpoint returns where the media's RTP is to be sent, or false if the
// stream is disabled (port 0) or on hold by the 0.0.0.0 convention.
func (m *Media) Endpoint() (netip.AddrPort, bool) {
	if m.Port == 0 || !m.Addr.IsValid() || m.Addr.IsUnspecified() {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(m.Addr, uint16(m.Port)), true
}

// RTCPEndpoint returns where the media's RTCP is to be sent.
func (m *Media) RTCPEndpoint() (netip.AddrPort, bool) {
	rtp, ok := m.Endpoint()
	if !ok {
		return rtp, false
	}
	addr := rtp.Addr()
	if m.RTCPAddr.IsValid() {
		addr = m.RTCPAddr
	}
	port := m.RTCPPort
	if port == 0 {
		port = m.Port + 1
	}
	return netip.AddrPortFrom(addr, uint16(port)), true
}

// Format returns the format for a payload type, with the static RFC 3551
// assignments filled in where the SDP has no rtpmap.
func (m *Media) Format(pt uint8) (Format, bool) {
	for _, f := range m.Formats {
		if f.PT == pt {
			if f.Name == "" {
				if s, ok := Static(pt); ok {
					return s, true
				}
			}
			return f, true
		}
	}
	return Static(pt)
}

// OnHold reports whether the stream is put on hold by this description.
func (m *Media) OnHold() bool {
	return m.Direction == SendOnly || m.Direction == Inactive || (m.Addr.IsValid() && m.Addr.IsUnspecified())
}

var static = map[uint8]Format{
	0: {0, "PCMU", 8000, 1}, 3: {3, "GSM", 8000, 1}, 4: {4, "G723", 8000, 1},
	5: {5, "DVI4", 8000, 1}, 6: {6, "DVI4", 16000, 1}, 7: {7, "LPC", 8000, 1},
	8: {8, "PCMA", 8000, 1}, 9: {9, "G722", 8000, 1}, 10: {10, "L16", 44100, 2},
	11: {11, "L16", 44100, 1}, 12: {12, "QCELP", 8000, 1}, 13: {13, "CN", 8000, 1},
	14: {14, "MPA", 90000, 1}, 15: {15, "G728", 8000, 1}, 16: {16, "DVI4", 11025, 1},
	17: {17, "DVI4", 22050, 1}, 18: {18, "G729", 8000, 1}, 25: {25, "CelB", 90000, 1},
	26: {26, "JPEG", 90000, 1}, 28: {28, "nv", 90000, 1}, 31: {31, "H261", 90000, 1},
	32: {32, "MPV", 90000, 1}, 33: {33, "MP2T", 90000, 1}, 34: {34, "H263", 90000, 1},
}

// Static returns the RFC 3551 static payload type assignment.
func Static(pt uint8) (Format, bool) {
	f, ok := static[pt]
	return f, ok
}

// Parse parses an SDP body.
func Parse(body []byte) (*Session, error) {
	s := &Session{}
	var cur *Media
	sessionDir := SendRecv
	dirSet := false
	for len(body) > 0 {
		var line []byte
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			line, body = body, nil
		}
		line = bytes.TrimRight(line, "\r ")
		if len(line) < 2 || line[1] != '=' {
			continue
		}
		val := string(line[2:])
		switch line[0] {
		case 'o':
			s.Origin = val
		case 'c':
			addr := parseConn(val)
			if cur == nil {
				s.Addr = addr
			} else {
				cur.Addr = addr
			}
		case 'm':
			m, ok := parseMedia(val)
			if !ok {
				cur = nil
				continue
			}
			s.Media = append(s.Media, m)
			cur = &s.Media[len(s.Media)-1]
		case 'a':
			name, arg, _ := strings.Cut(val, ":")
			if cur == nil {
				if d, ok := parseDir(name); ok {
					sessionDir, dirSet = d, true
				}
				continue
			}
			cur.attr(name, arg)
		}
	}
	if len(s.Media) == 0 {
		return nil, ErrNoMedia
	}
	for i := range s.Media {
		m := &s.Media[i]
		if !m.Addr.IsValid() {
			m.Addr = s.Addr
		}
		if dirSet && m.Direction == SendRecv && !m.dirExplicit() {
			m.Direction = sessionDir
		}
	}
	return s, nil
}

// dirExplicit is approximated by Direction != SendRecv: a media-level
// a=sendrecv under a session-level a=sendonly is rare enough that treating
// it as the session's direction is the safer reading for hold detection.
func (m *Media) dirExplicit() bool { return m.Direction != SendRecv }

func parseDir(name string) (Direction, bool) {
	switch name {
	case "sendrecv":
		return SendRecv, true
	case "sendonly":
		return SendOnly, true
	case "recvonly":
		return RecvOnly, true
	case "inactive":
		return Inactive, true
	}
	return 0, false
}

func parseConn(v string) netip.Addr {
	// c=IN IP4 192.0.2.1[/ttl]
	f := strings.Fields(v)
	if len(f) < 3 {
		return netip.Addr{}
	}
	a := f[2]
	if i := strings.IndexByte(a, '/'); i >= 0 {
		a = a[:i]
	}
	addr, err := netip.ParseAddr(a)
	if err != nil {
		return netip.Addr{}
	}
	return addr.Unmap()
}

func parseMedia(v string) (Media, bool) {
	// m=audio 49170[/2] RTP/AVP 0 8 101
	f := strings.Fields(v)
	if len(f) < 3 {
		return Media{}, false
	}
	port := f[1]
	if i := strings.IndexByte(port, '/'); i >= 0 {
		port = port[:i]
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return Media{}, false
	}
	m := Media{Type: f[0], Port: p, Proto: f[2]}
	for _, ft := range f[3:] {
		pt, err := strconv.Atoi(ft)
		if err != nil || pt < 0 || pt > 127 {
			continue
		}
		fm := Format{PT: uint8(pt)}
		if st, ok := Static(uint8(pt)); ok {
			fm = st
		}
		m.Formats = append(m.Formats, fm)
	}
	return m, true
}

func (m *Media) attr(name, arg string) {
	if d, ok := parseDir(name); ok {
		m.Direction = d
		return
	}
	switch name {
	case "rtpmap":
		// a=rtpmap:101 telephone-event/8000[/1]
		ptS, enc, ok := strings.Cut(arg, " ")
		if !ok {
			return
		}
		pt, err := strconv.Atoi(ptS)
		if err != nil || pt < 0 || pt > 127 {
			return
		}
		parts := strings.Split(strings.TrimSpace(enc), "/")
		f := Format{PT: uint8(pt), Name: parts[0], Channels: 1}
		if len(parts) > 1 {
			f.Rate, _ = strconv.Atoi(parts[1])
		}
		if len(parts) > 2 {
			if c, err := strconv.Atoi(parts[2]); err == nil {
				f.Channels = c
			}
		}
		for i := range m.Formats {
			if m.Formats[i].PT == f.PT {
				m.Formats[i] = f
				return
			}
		}
		m.Formats = append(m.Formats, f)
	case "ptime":
		m.Ptime, _ = strconv.Atoi(strings.TrimSpace(arg))
	case "rtcp":
		// a=rtcp:53020 [IN IP4 192.0.2.1]
		f := strings.Fields(arg)
		if len(f) == 0 {
			return
		}
		m.RTCPPort, _ = strconv.Atoi(f[0])
		if len(f) >= 4 {
			m.RTCPAddr = parseConn(strings.Join(f[1:], " "))
		}
	}
}

package sip

import (
	"bytes"
	"errors"
	"strconv"
)

// Errors returned by Parse.
var (
	ErrNotSIP     = errors.New("sip: not a SIP message")
	ErrIncomplete = errors.New("sip: incomplete message")
	ErrMalformed  = errors.New("sip: malformed message")
)

// MaxMessage bounds how much of a stream is buffered while looking for the
// end of a message; real INVITEs with large SDP or multipart bodies stay far
// below it.
const MaxMessage = 64 << 10

// Message is a parsed SIP request or response. Byte slices point into the
// buffer given to Parse.
type Message struct {
	Method        []byte // request method; for responses, the CSeq method
	RequestURI    []byte
	StatusCode    int // 0 for requests
	Reason        []byte
	CallID        []byte
	From, To      NameAddr
	CSeq          uint32
	CSeqMethod    []byte
	Contact       []byte
	PAI           []byte // P-Asserted-Identity URI
	Via           []byte // top Via header value
	UserAgent     []byte
	ContentType   []byte
	ContentLength int // -1 when absent
	Body          []byte
}

// NameAddr is a From/To/Contact value split into its parts.
type NameAddr struct {
	Display []byte
	URI     []byte
	Tag     []byte
}

// IsRequest reports whether m is a request.
func (m *Message) IsRequest() bool { return m.StatusCode == 0 }

var sipVersion = []byte("SIP/2.0")

// Looks reports whether b starts like a SIP message (request line or status
// line); it is the cheap check used to recognise SIP on any port.
func Looks(b []byte) bool {
	if bytes.HasPrefix(b, []byte("SIP/2.0 ")) {
		return true
	}
	eol := bytes.IndexByte(b, '\n')
	if eol < 0 {
		if len(b) > 512 {
			return false
		}
		eol = len(b)
	}
	line := bytes.TrimRight(b[:eol], "\r")
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 || sp > 16 {
		return false
	}
	for _, c := range line[:sp] {
		if !(c >= 'A' && c <= 'Z') && c != '-' {
			return false
		}
	}
	return bytes.HasSuffix(line, []byte(" SIP/2.0"))
}

// Parse parses one message at the start of b. For a datagram pass the whole
// payload with stream=false: a missing Content-Length means "the rest of the
// datagram". For a TCP stream pass stream=true: Content-Length is required
// and Parse returns ErrIncomplete until the whole body is in b. It returns
// the number of bytes the message occupies.
func Parse(b []byte, stream bool, m *Message) (int, error) {
	*m = Message{ContentLength: -1}
	// Tolerate the CRLF keep-alives (RFC 5626) that precede messages on TCP.
	start := 0
	for start < len(b) && (b[start] == '\r' || b[start] == '\n') {
		start++
	}
	b = b[start:]
	if len(b) == 0 {
		if stream {
			return start, ErrIncomplete
		}
		return 0, ErrNotSIP
	}
	hdrEnd := bytes.Index(b, []byte("\r\n\r\n"))
	sepLen := 4
	if hdrEnd < 0 {
		if i := bytes.Index(b, []byte("\n\n")); i >= 0 {
			hdrEnd, sepLen = i, 2
		}
	}
	if hdrEnd < 0 {
		if !Looks(b) {
			return 0, ErrNotSIP
		}
		if stream {
			if len(b) > MaxMessage {
				return 0, ErrMalformed
			}
			return 0, ErrIncomplete
		}
		hdrEnd, sepLen = len(b), 0 // a datagram with headers only and no blank line
	}
	head := b[:hdrEnd]
	eol := bytes.IndexByte(head, '\n')
	first := head
	rest := []byte(nil)
	if eol >= 0 {
		first, rest = head[:eol], head[eol+1:]
	}
	first = bytes.TrimRight(first, "\r")
	if err := m.parseFirstLine(first); err != nil {
		return 0, err
	}
	m.parseHeaders(rest)
	bodyStart := hdrEnd + sepLen
	total := 0
	switch {
	case m.ContentLength >= 0:
		if m.ContentLength > MaxMessage {
			return 0, ErrMalformed
		}
		end := bodyStart + m.ContentLength
		if end > len(b) {
			if stream {
				return 0, ErrIncomplete
			}
			end = len(b) // truncated datagram: keep what arrived
		}
		m.Body = b[bodyStart:end]
		total = end
	case stream:
		// RFC 3261 18.3: Content-Length is mandatory on streams. Treat a
		// message without it as having no body.
		total = bodyStart
	default:
		m.Body = b[min(bodyStart, len(b)):]
		total = len(b)
	}
	if m.CallID == nil {
		return 0, ErrMalformed
	}
	// A Call-ID is a word (RFC 3261 25.1): no control characters, no
	// spaces. A NUL in it was once stored verbatim.
	for _, c := range m.CallID {
		if c <= ' ' || c == 0x7f {
			return 0, ErrMalformed
		}
	}
	return start + total, nil
}

func (m *Message) parseFirstLine(line []byte) error {
	if bytes.HasPrefix(line, sipVersion) {
		// SIP/2.0 200 OK
		rest := line[len(sipVersion):]
		if len(rest) < 4 || rest[0] != ' ' {
			return ErrNotSIP
		}
		code, err := strconv.Atoi(string(rest[1:4]))
		if err != nil || code < 100 || code > 699 {
			return ErrNotSIP
		}
		m.StatusCode = code
		if len(rest) > 5 {
			m.Reason = rest[5:]
		}
		return nil
	}
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return ErrNotSIP
	}
	for _, c := range line[:sp] {
		if !(c >= 'A' && c <= 'Z') && c != '-' {
			return ErrNotSIP
		}
	}
	rest := line[sp+1:]
	sp2 := bytes.LastIndexByte(rest, ' ')
	if sp2 < 0 || !bytes.Equal(rest[sp2+1:], sipVersion) {
		return ErrNotSIP
	}
	m.Method = line[:sp]
	m.RequestURI = rest[:sp2]
	return nil
}

func (m *Message) parseHeaders(h []byte) {
	for len(h) > 0 {
		eol := bytes.IndexByte(h, '\n')
		var line []byte
		if eol < 0 {
			line, h = h, nil
		} else {
			line, h = h[:eol], h[eol+1:]
		}
		line = bytes.TrimRight(line, "\r")
		// Folded continuation lines (leading white space) extend the
		// previous header; the fields we use never need them.
		if len(line) == 0 || line[0] == ' ' || line[0] == '\t' {
			continue
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			continue
		}
		name := bytes.TrimSpace(line[:colon])
		value := bytes.TrimSpace(line[colon+1:])
		m.header(name, value)
	}
	if m.StatusCode != 0 && m.CSeqMethod != nil {
		m.Method = m.CSeqMethod
	}
}

func (m *Message) header(name, value []byte) {
	switch {
	case eq(name, "call-id") || eq(name, "i"):
		if m.CallID == nil {
			m.CallID = value
		}
	case eq(name, "from") || eq(name, "f"):
		m.From = ParseNameAddr(value)
	case eq(name, "to") || eq(name, "t"):
		m.To = ParseNameAddr(value)
	case eq(name, "cseq"):
		sp := bytes.IndexByte(value, ' ')
		if sp > 0 {
			n, err := strconv.ParseUint(string(value[:sp]), 10, 32)
			if err == nil {
				m.CSeq = uint32(n)
			}
			m.CSeqMethod = bytes.TrimSpace(value[sp+1:])
		}
	case eq(name, "contact") || eq(name, "m"):
		if m.Contact == nil {
			m.Contact = ParseNameAddr(value).URI
		}
	case eq(name, "p-asserted-identity"):
		if m.PAI == nil {
			m.PAI = ParseNameAddr(value).URI
		}
	case eq(name, "via") || eq(name, "v"):
		if m.Via == nil {
			m.Via = value
		}
	case eq(name, "user-agent"):
		m.UserAgent = value
	case eq(name, "content-type") || eq(name, "c"):
		m.ContentType = value
	case eq(name, "content-length") || eq(name, "l"):
		n, err := strconv.Atoi(string(value))
		if err == nil && n >= 0 {
			m.ContentLength = n
		}
	}
}

// eq compares a header name case-insensitively with a lower-case constant.
func eq(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// ParseNameAddr splits `"Alice" <sip:alice@example.com>;tag=1` into its
// display name, URI and tag.
func ParseNameAddr(v []byte) NameAddr {
	var na NameAddr
	params := v
	if lt := bytes.IndexByte(v, '<'); lt >= 0 {
		gt := bytes.IndexByte(v[lt:], '>')
		if gt < 0 {
			na.URI = bytes.TrimSpace(v[lt+1:])
			return na
		}
		na.Display = bytes.Trim(bytes.TrimSpace(v[:lt]), `"`)
		na.URI = v[lt+1 : lt+gt]
		params = v[lt+gt+1:]
	} else {
		semi := bytes.IndexByte(v, ';')
		if semi < 0 {
			na.URI = bytes.TrimSpace(v)
			return na
		}
		na.URI = bytes.TrimSpace(v[:semi])
		params = v[semi:]
	}
	for len(params) > 0 {
		semi := bytes.IndexByte(params, ';')
		if semi < 0 {
			break
		}
		params = params[semi+1:]
		p := params
		if next := bytes.IndexByte(p, ';'); next >= 0 {
			p = p[:next]
		}
		p = bytes.TrimSpace(p)
		if len(p) > 4 && eq(p[:4], "tag=") {
			na.Tag = p[4:]
		}
	}
	return na
}

// User returns the user part of a SIP or tel URI ("alice" in
// sip:alice@example.com;user=phone, "+4930123" in tel:+4930123).
func User(uri []byte) []byte {
	u := uri
	if i := bytes.IndexByte(u, ':'); i >= 0 && i < 6 {
		u = u[i+1:]
	}
	if at := bytes.IndexByte(u, '@'); at >= 0 {
		u = u[:at]
	}
	if semi := bytes.IndexAny(u, ";?"); semi >= 0 {
		u = u[:semi]
	}
	return u
}

// SDPBody returns the SDP part of a message body: the body itself for
// application/sdp, the application/sdp part of a multipart body, or nil.
func (m *Message) SDPBody() []byte {
	ct := m.ContentType
	if len(m.Body) == 0 {
		return nil
	}
	// ASCII-only lowering keeps offsets: bytes.ToLower turns an invalid
	// UTF-8 byte into three, and the boundary index into ct would be off
	// (found by FuzzParse).
	lower := asciiLower(ct)
	if len(ct) == 0 {
		if bytes.HasPrefix(m.Body, []byte("v=0")) {
			return m.Body
		}
		return nil
	}
	if bytes.HasPrefix(lower, []byte("application/sdp")) {
		return m.Body
	}
	if !bytes.HasPrefix(lower, []byte("multipart/")) {
		return nil
	}
	i := bytes.Index(lower, []byte("boundary="))
	if i < 0 {
		return nil
	}
	boundary := ct[i+len("boundary="):]
	if semi := bytes.IndexByte(boundary, ';'); semi >= 0 {
		boundary = boundary[:semi]
	}
	boundary = bytes.Trim(bytes.TrimSpace(boundary), `"`)
	if len(boundary) == 0 {
		return nil
	}
	delim := append([]byte("--"), boundary...)
	parts := bytes.Split(m.Body, delim)
	for _, part := range parts {
		hdrEnd := bytes.Index(part, []byte("\r\n\r\n"))
		sep := 4
		if hdrEnd < 0 {
			hdrEnd = bytes.Index(part, []byte("\n\n"))
			sep = 2
		}
		if hdrEnd < 0 {
			continue
		}
		if bytes.Contains(asciiLower(part[:hdrEnd]), []byte("application/sdp")) {
			body := part[hdrEnd+sep:]
			return bytes.TrimRight(body, "\r\n")
		}
	}
	return nil
}

// asciiLower lower-cases ASCII letters into a new slice of the same length.
func asciiLower(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return out
}

package sealed

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"time"
)

// Magic starts every sealed recording's plaintext that Writer writes.
// Such a recording ends with an 'F' record (CRC-32C of the frames).
const Magic = "SPVREC2\n"

// MagicV1 started recordings written before Magic; they end with an 'E'
// record (SHA-256 of the frames). Reader reads both.
const MagicV1 = "SPVREC1\n"

// castagnoli is CRC-32C, which the CPU computes (SSE 4.2, ARMv8 CRC).
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// MaxHeader is the largest header that is delta-coded; longer headers
// (tunnels inside tunnels) code their first MaxHeader bytes.
const MaxHeader = 256

// MaxFrame bounds one frame, far above any real Ethernet or loopback frame.
const MaxFrame = 1 << 18

// Frame is one captured frame as stored.
type Frame struct {
	Time     time.Time
	Data     []byte
	LinkType uint16
	Kind     uint8
	Dir      uint8
	Flow     uint16
}

type ctxKey struct {
	kind, dir uint8
	flow      uint16
	link      uint16
}

type context struct {
	key     ctxKey
	id      uint32
	defined bool // its 'C' record is in the stream since the last sync point
	hdrLen  int
	n       int
	lastNS  int64
	lastDNS int64
	lastLen int
	prev    []uint64 // previous header, four 16-bit words a block, grown to the longest seen
	delta   []uint64 // previous first differences, the same way
}

// Writer writes the record stream of one recording.
type Writer struct {
	w       io.Writer
	ctxs    map[ctxKey]*context
	ctxList []*context
	lastNS  int64
	frames  uint64
	sum     uint32 // CRC-32C of every frame's bytes
	buf     []byte
	// Sync points: every SyncEvery of capture time the contexts start
	// afresh, so that a reader can begin at any sync point.
	nextID   uint32
	lastSync int64
	off      int64 // plaintext bytes written, the magic included
	// scratch for encodeHeader: the non-zero second differences
	nzIdx [MaxHeader / 2]uint8
	nzVal [MaxHeader / 2]int32
	pad   [MaxHeader]byte
}

// NewWriter writes the magic to w and returns a Writer.
func NewWriter(w io.Writer) (*Writer, error) {
	wr := &Writer{w: w, buf: make([]byte, 0, 512), off: int64(len(Magic))}
	if _, err := io.WriteString(w, Magic); err != nil {
		return nil, err
	}
	return wr, nil
}

// SyncEvery is the capture time between sync points.
const SyncEvery = 10 * time.Second

// SyncMagic follows the 'S' of a sync record.
const SyncMagic = "\x00SPVSYNC"

// sync writes a sync point and makes every context start afresh: each is
// defined again (a new id) and its next frame is stored whole. The record
// names its own plaintext offset, which a reader looking for sync points
// checks, so that a payload imitating one is not taken for it.
func (w *Writer) sync(b []byte) []byte {
	b = append(b, 'S')
	b = append(b, SyncMagic...)
	b = binary.AppendUvarint(b, uint64(w.off))
	b = binary.AppendUvarint(b, uint64(w.nextID))
	b = binary.AppendVarint(b, w.lastNS)
	for _, c := range w.ctxList {
		c.defined, c.n, c.lastLen = false, 0, 0
	}
	return b
}

// Meta writes a metadata record (opaque bytes, JSON by convention).
func (w *Writer) Meta(b []byte) error {
	w.buf = append(w.buf[:0], 'M')
	w.buf = binary.AppendUvarint(w.buf, uint64(len(b)))
	w.off += int64(len(w.buf) + len(b))
	if _, err := w.w.Write(w.buf); err != nil {
		return err
	}
	_, err := w.w.Write(b)
	return err
}

// Frame writes one frame. hdrLen is how many leading bytes are header,
// the part worth delta-coding.
func (w *Writer) Frame(f *Frame, hdrLen int) error {
	if len(f.Data) > MaxFrame {
		return fmt.Errorf("sealed: frame of %d bytes exceeds %d", len(f.Data), MaxFrame)
	}
	hdrLen = max(0, min(hdrLen, len(f.Data), MaxHeader))
	hdrLen &^= 1 // whole 16-bit words
	k := ctxKey{kind: f.Kind, dir: f.Dir, flow: f.Flow, link: f.LinkType}
	ns := f.Time.UnixNano()
	b := w.buf[:0]
	if w.frames == 0 {
		w.lastSync = ns
	} else if ns-w.lastSync >= int64(SyncEvery) {
		b = w.sync(b)
		w.lastSync = ns
	}
	c := w.context(k)
	if c == nil {
		c = &context{key: k}
		if w.ctxs != nil {
			w.ctxs[k] = c
		}
		w.ctxList = append(w.ctxList, c)
	}
	if !c.defined {
		c.id, c.defined = w.nextID, true
		w.nextID++
		b = append(b, 'C')
		b = binary.AppendUvarint(b, uint64(c.id))
		b = binary.AppendUvarint(b, uint64(f.LinkType))
		b = append(b, f.Kind, f.Dir)
		b = binary.AppendUvarint(b, uint64(f.Flow))
	}
	// Time: the first frame of a context is stored against the previous
	// frame of the recording; later ones as the second difference within
	// the context, which a steady 20 ms packet clock makes zero.
	var dt2 int64
	if c.n == 0 {
		dt2 = ns - w.lastNS
		c.lastDNS = 0
	} else {
		d := ns - c.lastNS
		dt2 = d - c.lastDNS
		c.lastDNS = d
	}
	c.lastNS = ns
	w.lastNS = ns
	b = append(b, 'P')
	b = binary.AppendUvarint(b, uint64(c.id))
	b = binary.AppendVarint(b, dt2)
	b = binary.AppendVarint(b, int64(len(f.Data)-c.lastLen))
	c.lastLen = len(f.Data)
	b = binary.AppendUvarint(b, uint64(hdrLen))
	b = w.encodeHeader(c, b, f.Data[:hdrLen])
	w.buf = b
	w.frames++
	w.sum = crc32.Update(w.sum, castagnoli, f.Data)
	// The record's head, then the payload straight from the frame: the
	// payload is copied once, into the sealing buffer.
	w.off += int64(len(b) + len(f.Data) - hdrLen)
	if _, err := w.w.Write(b); err != nil {
		return err
	}
	_, err := w.w.Write(f.Data[hdrLen:])
	return err
}

// Release drops the Writer's per-context state and buffer once the
// recording is ended; Frames still answers.
func (w *Writer) Release() {
	if w == nil {
		return
	}
	w.ctxs, w.ctxList, w.buf = nil, nil, nil
}

// context finds the context of k: a call has a handful (SIP, and RTP and
// RTCP each way), searched in a short list; a map takes over past 16.
func (w *Writer) context(k ctxKey) *context {
	if w.ctxs != nil {
		return w.ctxs[k]
	}
	for _, c := range w.ctxList {
		if c.key == k {
			return c
		}
	}
	if len(w.ctxList) >= 16 {
		w.ctxs = make(map[ctxKey]*context, 32)
		for _, c := range w.ctxList {
			w.ctxs[c.key] = c
		}
	}
	return nil
}

// encodeHeader appends the header as second differences of 16-bit words
// against the context's history: a count of non-zero words, then each as
// (index, value). The first header of a context (or of a new length) is
// stored whole: each word as its unsigned value.
//
// The words are handled four at a time, as the lanes of a uint64 (SWAR):
// a steady RTP stream changes a few words a frame, so most blocks cost a
// load, two lane-wise subtractions and a compare.
func (w *Writer) encodeHeader(c *context, b []byte, hdr []byte) []byte {
	blocks := (len(hdr) + 7) / 8
	sameShape := c.n > 0 && c.hdrLen == len(hdr)
	if len(c.prev) < blocks {
		c.prev = append(c.prev, make([]uint64, blocks-len(c.prev))...)
		c.delta = append(c.delta, make([]uint64, blocks-len(c.delta))...)
	}
	// The header padded with zero words to whole blocks: a padding lane
	// is zero in every frame, so it never differs.
	pad := w.pad[:8*blocks]
	clear(pad[len(hdr):])
	copy(pad, hdr)
	prev, delta := c.prev[:blocks], c.delta[:blocks]
	nz := 0
	for j := range prev {
		cur := binary.BigEndian.Uint64(pad[8*j:])
		var v uint64
		if sameShape {
			d := sub16(cur, prev[j])
			v = sub16(d, delta[j])
			delta[j] = d
		} else {
			v, delta[j] = cur, 0
		}
		prev[j] = cur
		if v == 0 {
			continue
		}
		for k := 0; k < 4; k++ {
			lane := uint16(v >> (48 - 16*k))
			if lane == 0 {
				continue
			}
			w.nzIdx[nz] = uint8(4*j + k)
			if sameShape {
				w.nzVal[nz] = int32(int16(lane))
			} else {
				w.nzVal[nz] = int32(lane)
			}
			nz++
		}
	}
	b = binary.AppendUvarint(b, uint64(nz))
	for k := 0; k < nz; k++ {
		b = binary.AppendUvarint(b, uint64(w.nzIdx[k]))
		b = binary.AppendVarint(b, int64(w.nzVal[k]))
	}
	c.hdrLen = len(hdr)
	c.n++
	return b
}

// sub16 subtracts the four 16-bit lanes of y from those of x, each modulo
// 2^16, with no borrow from one lane into the next.
func sub16(x, y uint64) uint64 {
	const h = 0x8000_8000_8000_8000
	return ((x | h) - (y &^ h)) ^ ((x ^ ^y) & h)
}

// wrap16 maps a difference of 16-bit words into [-32768, 32767].
func wrap16(v int32) int32 {
	return int32(int16(uint16(v)))
}

// End writes the end record: the frame count and the CRC-32C over all
// frame bytes, which a reader checks. The checksum guards the coding (every
// frame comes back byte for byte), not against forgery: age's STREAM
// authenticates every chunk and the end, and the vault's index and audit
// chain hold the SHA-256 of the sealed file.
func (w *Writer) End() error {
	b := append(w.buf[:0], 'F')
	b = binary.AppendUvarint(b, w.frames)
	b = binary.BigEndian.AppendUint32(b, w.sum)
	_, err := w.w.Write(b)
	return err
}

// Frames returns the number of frames written.
func (w *Writer) Frames() uint64 { return w.frames }

// Reader reads a record stream.
type Reader struct {
	r    *bufio.Reader
	ctxs []*readCtx
	base uint64 // id of ctxs[0]: contexts start afresh at each sync point
	// resumed: the reader began at a sync point, so the end record's
	// count and checksum (over every frame) cannot be checked.
	resumed bool
	lastNS  int64
	frames  uint64
	sha     hash.Hash // running SHA-256 of the frames, for a MagicV1 recording
	crc     uint32    // running CRC-32C of the frames, for a Magic one
	ended   bool
	// Verified is set when the end record was read and matched.
	Verified bool
}

type readCtx struct {
	link      uint16
	kind, dir uint8
	flow      uint16
	prev      [MaxHeader]byte
	delta     [MaxHeader / 2]int32
	hdrLen    int
	n         int
	lastNS    int64
	lastDNS   int64
	lastLen   int64
}

// Errors a Reader returns.
var (
	ErrTruncated = errors.New("sealed: recording truncated (interrupted before it was finished)")
	ErrCorrupt   = errors.New("sealed: corrupt record stream")
	// ErrFirstChunk: the stream's first chunk cannot be read (it does not
	// authenticate). In a recording interrupted by a crash it means the
	// first chunk was being written: nothing complete reached the disk.
	ErrFirstChunk = errors.New("sealed: the first chunk cannot be read")
)

// NewReader checks the magic and returns a Reader.
func NewReader(r io.Reader) (*Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	m := make([]byte, len(Magic))
	if _, err := io.ReadFull(br, m); err != nil {
		if err = truncErr(err); err != ErrTruncated {
			err = fmt.Errorf("%w: %w", ErrFirstChunk, err)
		}
		return nil, fmt.Errorf("sealed: reading magic: %w", err)
	}
	switch string(m) {
	case Magic:
		return &Reader{r: br}, nil
	case MagicV1:
		return &Reader{r: br, sha: sha256.New()}, nil
	}
	return nil, fmt.Errorf("%w: bad magic", ErrCorrupt)
}

// SyncPoint is where a reader can begin: the plaintext offset of a sync
// record, and the capture time of the last frame before it.
type SyncPoint struct {
	Offset int64
	Time   time.Time
}

// ErrNoSync: no sync point at or after the offset (a recording written
// before sync points, or the end of the stream).
var ErrNoSync = errors.New("sealed: no sync point")

// FindSync returns the first sync point at or after from in the plaintext
// ra of size bytes (filippo.io/age's DecryptReaderAt gives one that
// decrypts only the chunks read). A candidate counts only if it names its
// own offset, so a payload that imitates a sync record is skipped.
func FindSync(ra io.ReaderAt, size, from int64) (SyncPoint, error) {
	const block = 64 << 10
	pat := []byte("S" + SyncMagic)
	buf := make([]byte, block+64)
	for pos := max(from, 0); pos < size; pos += block {
		n, err := ra.ReadAt(buf[:min(int64(len(buf)), size-pos)], pos)
		if err != nil && err != io.EOF {
			return SyncPoint{}, err
		}
		b := buf[:n]
		for i := 0; i < len(b) && i < block; {
			j := bytes.Index(b[i:], pat)
			if j < 0 || i+j >= block {
				break
			}
			at := i + j
			rest := b[at+len(pat):]
			off, k1 := binary.Uvarint(rest)
			_, k2 := binary.Uvarint(rest[max(k1, 0):])
			var last int64
			var k3 int
			if k1 > 0 && k2 > 0 {
				last, k3 = binary.Varint(rest[k1+k2:])
			}
			if k1 > 0 && k2 > 0 && k3 > 0 && int64(off) == pos+int64(at) {
				return SyncPoint{Offset: pos + int64(at), Time: time.Unix(0, last).UTC()}, nil
			}
			i = at + 1
		}
	}
	return SyncPoint{}, ErrNoSync
}

// NewReaderAt reads the plaintext ra from a sync point on. Frames, times
// and headers come out exactly as from the start; the end record's count
// and checksum are not checked (they cover frames before the sync point).
func NewReaderAt(ra io.ReaderAt, size int64, sp SyncPoint) *Reader {
	return &Reader{r: bufio.NewReaderSize(io.NewSectionReader(ra, sp.Offset, size-sp.Offset), 64<<10), resumed: true}
}

func truncErr(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return ErrTruncated
	}
	return err
}

// Record kinds returned by Next.
const (
	RecMeta  = 'M'
	RecFrame = 'P'
	RecEnd   = 'E'
)

// Next returns the next metadata record or frame. At the end of a complete
// recording it returns io.EOF; a recording cut short returns ErrTruncated
// (or the decryption error that marks where its readable part ends).
func (r *Reader) Next(f *Frame) (kind byte, meta []byte, err error) {
	for {
		t, err := r.r.ReadByte()
		if err != nil {
			if err == io.EOF && r.ended {
				return 0, nil, io.EOF
			}
			if err == io.EOF {
				return 0, nil, ErrTruncated
			}
			return 0, nil, err
		}
		switch t {
		case 'M':
			n, err := binary.ReadUvarint(r.r)
			if err != nil {
				return 0, nil, truncErr(err)
			}
			if n > 1<<24 {
				return 0, nil, fmt.Errorf("%w: metadata of %d bytes", ErrCorrupt, n)
			}
			b := make([]byte, n)
			if _, err := io.ReadFull(r.r, b); err != nil {
				return 0, nil, truncErr(err)
			}
			return RecMeta, b, nil
		case 'C':
			id, err := binary.ReadUvarint(r.r)
			if err != nil {
				return 0, nil, truncErr(err)
			}
			if id != r.base+uint64(len(r.ctxs)) {
				return 0, nil, fmt.Errorf("%w: context %d out of order", ErrCorrupt, id)
			}
			link, err := binary.ReadUvarint(r.r)
			if err != nil {
				return 0, nil, truncErr(err)
			}
			var kd [2]byte
			if _, err := io.ReadFull(r.r, kd[:]); err != nil {
				return 0, nil, truncErr(err)
			}
			flow, err := binary.ReadUvarint(r.r)
			if err != nil {
				return 0, nil, truncErr(err)
			}
			r.ctxs = append(r.ctxs, &readCtx{link: uint16(link), kind: kd[0], dir: kd[1], flow: uint16(flow)})
		case 'S':
			var m [len(SyncMagic)]byte
			if _, err := io.ReadFull(r.r, m[:]); err != nil {
				return 0, nil, truncErr(err)
			}
			if string(m[:]) != SyncMagic {
				return 0, nil, fmt.Errorf("%w: bad sync record", ErrCorrupt)
			}
			if _, err := binary.ReadUvarint(r.r); err != nil { // its own offset
				return 0, nil, truncErr(err)
			}
			base, err := binary.ReadUvarint(r.r)
			if err != nil {
				return 0, nil, truncErr(err)
			}
			last, err := binary.ReadVarint(r.r)
			if err != nil {
				return 0, nil, truncErr(err)
			}
			if r.frames > 0 && base != r.base+uint64(len(r.ctxs)) {
				return 0, nil, fmt.Errorf("%w: sync point names context %d after %d", ErrCorrupt, base, r.base+uint64(len(r.ctxs)))
			}
			r.base, r.ctxs, r.lastNS = base, r.ctxs[:0], last
		case 'P':
			if err := r.frame(f); err != nil {
				return 0, nil, err
			}
			return RecFrame, nil, nil
		case 'E', 'F':
			// 'E' ends a MagicV1 recording (SHA-256), 'F' a Magic one
			// (CRC-32C). A reader resumed at a sync point has not seen the
			// magic and takes either.
			if !r.resumed && (t == 'E') != (r.sha != nil) {
				return 0, nil, fmt.Errorf("%w: end record %q in a recording of the other version", ErrCorrupt, t)
			}
			n, err := binary.ReadUvarint(r.r)
			if err != nil {
				return 0, nil, truncErr(err)
			}
			var sum [sha256.Size]byte
			size := 4
			if t == 'E' {
				size = sha256.Size
			}
			if _, err := io.ReadFull(r.r, sum[:size]); err != nil {
				return 0, nil, truncErr(err)
			}
			if r.resumed {
				r.ended = true
				return RecEnd, nil, nil
			}
			var want []byte
			if r.sha != nil {
				want = r.sha.Sum(nil)
			} else {
				want = binary.BigEndian.AppendUint32(nil, r.crc)
			}
			if n != r.frames || string(sum[:size]) != string(want) {
				return 0, nil, fmt.Errorf("%w: end record says %d frames, read %d, or checksum differs", ErrCorrupt, n, r.frames)
			}
			r.ended, r.Verified = true, true
			return RecEnd, nil, nil
		default:
			return 0, nil, fmt.Errorf("%w: unknown record type %q", ErrCorrupt, t)
		}
	}
}

func (r *Reader) frame(f *Frame) error {
	id, err := binary.ReadUvarint(r.r)
	if err != nil {
		return truncErr(err)
	}
	if id < r.base || id-r.base >= uint64(len(r.ctxs)) {
		return fmt.Errorf("%w: unknown context %d", ErrCorrupt, id)
	}
	c := r.ctxs[id-r.base]
	dt2, err := binary.ReadVarint(r.r)
	if err != nil {
		return truncErr(err)
	}
	var ns int64
	if c.n == 0 {
		ns = r.lastNS + dt2
		c.lastDNS = 0
	} else {
		d := c.lastDNS + dt2
		ns = c.lastNS + d
		c.lastDNS = d
	}
	c.lastNS = ns
	r.lastNS = ns
	dlen, err := binary.ReadVarint(r.r)
	if err != nil {
		return truncErr(err)
	}
	c.lastLen += dlen
	if c.lastLen < 0 {
		return fmt.Errorf("%w: negative frame length", ErrCorrupt)
	}
	caplen := uint64(c.lastLen)
	hdrLen, err := binary.ReadUvarint(r.r)
	if err != nil {
		return truncErr(err)
	}
	if caplen > MaxFrame || hdrLen > caplen || hdrLen > MaxHeader || hdrLen%2 != 0 {
		return fmt.Errorf("%w: frame length %d header %d", ErrCorrupt, caplen, hdrLen)
	}
	if cap(f.Data) < int(caplen) {
		f.Data = make([]byte, caplen)
	}
	f.Data = f.Data[:caplen]
	if err := c.decodeHeader(r.r, f.Data[:hdrLen]); err != nil {
		return err
	}
	if _, err := io.ReadFull(r.r, f.Data[hdrLen:]); err != nil {
		return truncErr(err)
	}
	f.Time = time.Unix(0, ns).UTC()
	f.LinkType, f.Kind, f.Dir, f.Flow = c.link, c.kind, c.dir, c.flow
	r.frames++
	if r.sha != nil {
		r.sha.Write(f.Data)
	} else {
		r.crc = crc32.Update(r.crc, castagnoli, f.Data)
	}
	return nil
}

func (c *readCtx) decodeHeader(r *bufio.Reader, hdr []byte) error {
	cnt, err := binary.ReadUvarint(r)
	if err != nil {
		return truncErr(err)
	}
	words := len(hdr) / 2
	if cnt > uint64(words) {
		return fmt.Errorf("%w: %d header corrections for %d words", ErrCorrupt, cnt, words)
	}
	nz := int(cnt)
	sameShape := c.n > 0 && c.hdrLen == len(hdr)
	if sameShape {
		// Predict every word from the previous header and delta, then
		// apply the stored corrections.
		for i := 0; i < words; i++ {
			prev := int32(binary.BigEndian.Uint16(c.prev[2*i:]))
			binary.BigEndian.PutUint16(hdr[2*i:], uint16(prev+c.delta[i]))
		}
	} else {
		clear(hdr)
		clear(c.delta[:])
	}
	for j := 0; j < nz; j++ {
		idx, err := binary.ReadUvarint(r)
		if err != nil {
			return truncErr(err)
		}
		v, err := binary.ReadVarint(r)
		if err != nil {
			return truncErr(err)
		}
		if idx >= uint64(words) {
			return fmt.Errorf("%w: header word %d of %d", ErrCorrupt, idx, words)
		}
		i := int(idx)
		if sameShape {
			c.delta[i] = wrap16(c.delta[i] + int32(v))
			prev := int32(binary.BigEndian.Uint16(c.prev[2*i:]))
			binary.BigEndian.PutUint16(hdr[2*i:], uint16(prev+c.delta[i]))
		} else {
			binary.BigEndian.PutUint16(hdr[2*i:], uint16(v))
		}
	}
	copy(c.prev[:], hdr)
	c.hdrLen = len(hdr)
	c.n++
	return nil
}

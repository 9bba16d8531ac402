package agefile

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"

	"filippo.io/age"
	"golang.org/x/crypto/chacha20poly1305"
)

const (
	// ChunkSize is the plaintext size of every STREAM chunk but the last.
	ChunkSize = 64 << 10
	// BufferSize is the least capacity of a Writer's buffer: one chunk and
	// its authentication tag.
	BufferSize = ChunkSize + chacha20poly1305.Overhead

	intro         = "age-encryption.org/v1\n"
	fileKeySize   = 16
	streamNonce   = 16
	columns       = 64
	lastChunkFlag = 0x01
)

var b64 = base64.RawStdEncoding

// Writer encrypts one age file. It is not safe for concurrent use.
type Writer struct {
	dst   io.Writer
	aead  cipher.AEAD
	nonce [chacha20poly1305.NonceSize]byte
	buf   []byte // len: plaintext pending; cap: at least BufferSize
	n     int64  // plaintext bytes written
	err   error
	pool  *Buffers // where buf came from and goes back to, if anywhere
}

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("agefile: write after close")

// NewWriter writes the age header for recipients and the payload nonce to
// dst (in one Write) and returns a Writer whose plaintext is kept in buf,
// which must have a capacity of at least BufferSize. buf may be nil, in
// which case the Writer allocates one.
func NewWriter(dst io.Writer, buf []byte, recipients ...age.Recipient) (*Writer, error) {
	if buf == nil {
		buf = make([]byte, 0, BufferSize)
	}
	if cap(buf) < BufferSize {
		return nil, fmt.Errorf("agefile: buffer of %d bytes, need %d", cap(buf), BufferSize)
	}
	fileKey := make([]byte, fileKeySize)
	rand.Read(fileKey)
	hdr, err := header(fileKey, recipients)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, streamNonce)
	rand.Read(nonce)
	key, err := hkdf.Key(sha256.New, fileKey, nonce, "payload", chacha20poly1305.KeySize)
	if err != nil {
		return nil, fmt.Errorf("agefile: payload key: %w", err)
	}
	aead, err := chacha20poly1305.New(key)
	if err != nil {
		return nil, fmt.Errorf("agefile: %w", err)
	}
	if _, err := dst.Write(append(hdr, nonce...)); err != nil {
		return nil, fmt.Errorf("agefile: write header: %w", err)
	}
	return &Writer{dst: dst, aead: aead, buf: buf[:0]}, nil
}

// NewWriter is agefile.NewWriter with a buffer from the pool, which the
// Writer hands back at Close or Abandon. Between chunks the buffer's pages
// are returned to the kernel.
func (p *Buffers) NewWriter(dst io.Writer, recipients ...age.Recipient) (*Writer, error) {
	buf := p.Get()
	w, err := NewWriter(dst, buf, recipients...)
	if err != nil {
		p.Put(buf)
		return nil, err
	}
	w.pool = p
	return w, nil
}

// header returns the marshalled age header (stanzas and MAC) that wraps
// fileKey to every recipient, as age.Encrypt writes it.
func header(fileKey []byte, recipients []age.Recipient) ([]byte, error) {
	if len(recipients) == 0 {
		return nil, errors.New("agefile: no recipients")
	}
	var stanzas []*age.Stanza
	var labels []string
	for i, r := range recipients {
		var s []*age.Stanza
		var l []string
		var err error
		if rl, ok := r.(age.RecipientWithLabels); ok {
			s, l, err = rl.WrapWithLabels(fileKey)
		} else {
			s, err = r.Wrap(fileKey)
		}
		if err != nil {
			return nil, fmt.Errorf("agefile: wrap the file key for recipient #%d: %w", i, err)
		}
		sort.Strings(l)
		if i == 0 {
			labels = l
		} else if !slices.Equal(labels, l) {
			return nil, fmt.Errorf("agefile: recipient #%d cannot be mixed with the others (labels %v, %v)", i, labels, l)
		}
		stanzas = append(stanzas, s...)
	}
	h := []byte(intro)
	for _, s := range stanzas {
		h = appendStanza(h, s)
	}
	h = append(h, "---"...)
	macKey, err := hkdf.Key(sha256.New, fileKey, nil, "header", 32)
	if err != nil {
		return nil, fmt.Errorf("agefile: header key: %w", err)
	}
	mac := hmac.New(sha256.New, macKey)
	mac.Write(h)
	h = append(h, ' ')
	h = b64.AppendEncode(h, mac.Sum(nil))
	return append(h, '\n'), nil
}

// appendStanza marshals s as age does: "-> type args...", then the body
// in base64 wrapped at 64 columns, the last line always shorter than 64
// (empty when the body is a multiple of 48 bytes).
func appendStanza(b []byte, s *age.Stanza) []byte {
	b = append(b, "->"...)
	for _, a := range append([]string{s.Type}, s.Args...) {
		b = append(b, ' ')
		b = append(b, a...)
	}
	b = append(b, '\n')
	enc := b64.EncodeToString(s.Body)
	for len(enc) >= columns {
		b = append(b, enc[:columns]...)
		b = append(b, '\n')
		enc = enc[columns:]
	}
	b = append(b, enc...)
	return append(b, '\n')
}

// Write encrypts p. Whole chunks go to the destination as they fill and
// more data follows; the rest waits in the buffer for the next Write or
// Close.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	total := len(p)
	for len(p) > 0 {
		if len(w.buf) == ChunkSize {
			if err := w.flush(false); err != nil {
				return total - len(p), err
			}
		}
		k := copy(w.buf[len(w.buf):ChunkSize], p)
		w.buf = w.buf[:len(w.buf)+k]
		p = p[k:]
		w.n += int64(k)
	}
	return total, nil
}

// Buffered returns how many plaintext bytes wait in the buffer.
func (w *Writer) Buffered() int { return len(w.buf) }

// Size returns the plaintext bytes written so far.
func (w *Writer) Size() int64 { return w.n }

// flush seals the buffered chunk in place and writes it out.
func (w *Writer) flush(last bool) error {
	if last {
		w.nonce[len(w.nonce)-1] = lastChunkFlag
	}
	out := w.aead.Seal(w.buf[:0], w.nonce[:], w.buf, nil)
	_, err := w.dst.Write(out)
	w.buf = w.buf[:0]
	if w.pool != nil && !last {
		// The buffer's pages go back to the kernel between chunks: a call
		// holds, on average, half a chunk of memory, not a whole one.
		release(w.buf[:BufferSize])
	}
	if err != nil {
		w.err = fmt.Errorf("agefile: write chunk: %w", err)
		return w.err
	}
	for i := len(w.nonce) - 2; i >= 0; i-- {
		w.nonce[i]++
		if w.nonce[i] != 0 {
			return nil
		}
	}
	w.err = errors.New("agefile: chunk counter wrapped around")
	return w.err
}

// Close writes the last chunk (flagged as last; empty only if nothing was
// written at all). After Close the Writer does not touch its buffer.
func (w *Writer) Close() error {
	if w.err == ErrClosed {
		return nil
	}
	if w.err != nil {
		w.giveBack()
		return w.err
	}
	err := w.flush(true)
	w.giveBack()
	if err != nil {
		return err
	}
	w.err = ErrClosed
	return nil
}

// giveBack hands a pooled buffer back; the Writer no longer has one.
func (w *Writer) giveBack() {
	if w.pool != nil && w.buf != nil {
		w.pool.Put(w.buf)
	}
	w.buf = nil
}

// Abandon drops the buffered plaintext without writing it: the file stays
// without its last chunk, which every reader reports as truncated. The
// buffer is wiped and no longer touched.
func (w *Writer) Abandon() {
	if w.pool == nil {
		clear(w.buf[:cap(w.buf)])
	}
	w.giveBack() // Put wipes it
	if w.err == nil {
		w.err = ErrClosed
	}
}

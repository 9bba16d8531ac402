package store

import (
	"bytes"
	"hash"
)

// publishing is what a publish knows of a verified upload beyond its
// bytes: the lock the box's class asks for (zero: the provisional one)
// and, for an upload received in one piece, the payload's SHA-256 taken
// as it arrived (the PUT's checksum needs no second read of the file).
type publishing struct {
	want      Retention
	unclaimed bool   // Upload.Unclaimed
	headerLen int64  // bytes of the age header before the payload (when payload is set)
	payload   []byte // SHA-256 of the bytes after the header, or nil
}

// payloadSum returns the payload's SHA-256 if it was taken for a header
// of hdrLen bytes (the one publish split off), else nil.
func (p publishing) payloadSum(hdrLen int64) []byte {
	if p.payload == nil || p.headerLen != hdrLen {
		return nil
	}
	return p.payload
}

// payloadHasher hashes what follows an age header in the bytes written
// to it: the header is the lines up to and including the one that
// starts with "--- " (the MAC line), as ageHeader reads it, at most 64
// KiB; past that it gives up (publish then hashes the file itself).
type payloadHasher struct {
	h      hash.Hash
	n      int64  // header bytes seen
	line   []byte // the current header line's first four bytes
	inBody bool
	failed bool
}

func (p *payloadHasher) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 && !p.inBody && !p.failed {
		seg := b
		i := bytes.IndexByte(b, '\n')
		if i >= 0 {
			seg = b[:i+1]
		}
		if k := min(4-len(p.line), len(seg)); k > 0 {
			p.line = append(p.line, seg[:k]...)
		}
		if p.n += int64(len(seg)); p.n > 64<<10 {
			p.failed = true
			break
		}
		if i >= 0 {
			p.inBody = string(p.line) == "--- "
			p.line = p.line[:0]
		}
		b = b[len(seg):]
	}
	if p.inBody && len(b) > 0 {
		p.h.Write(b)
	}
	return n, nil
}

// publishing is what p learned, with what u says.
func (p *payloadHasher) publishing(u Upload) publishing {
	pub := publishing{want: u.Lock, unclaimed: u.Unclaimed}
	if p != nil && p.inBody {
		pub.headerLen, pub.payload = p.n, p.h.Sum(nil)
	}
	return pub
}

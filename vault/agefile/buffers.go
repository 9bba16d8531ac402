package agefile

import "sync"

// Buffers is a pool of chunk buffers of BufferSize bytes. On Linux they
// live in anonymous mappings outside the Go heap, packed end to end; a
// buffer given back has its pages returned to the kernel (so a quiet box
// gives back what a busy hour took) and reads as zeros when it is next
// handed out. The zero Buffers is ready to use; it is safe for concurrent
// use.
type Buffers struct {
	mu   sync.Mutex
	free [][]byte
	out  int
}

// slotsPerMap is how many buffers one mapping holds (about 4 MiB).
const slotsPerMap = 64

// Get returns a buffer of length 0 and capacity BufferSize.
func (p *Buffers) Get() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) == 0 {
		p.free = grow(p.free)
	}
	b := p.free[len(p.free)-1]
	p.free = p.free[:len(p.free)-1]
	p.out++
	return b[:0:BufferSize]
}

// Put gives a buffer from Get back. The caller must not touch it again.
func (p *Buffers) Put(b []byte) {
	if cap(b) < BufferSize {
		return
	}
	b = b[:BufferSize:BufferSize]
	release(b)
	p.mu.Lock()
	p.free = append(p.free, b)
	p.out--
	p.mu.Unlock()
}

// InUse returns how many buffers are handed out.
func (p *Buffers) InUse() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out
}

package agefile

import (
	"os"

	"golang.org/x/sys/unix"
)

// grow maps room for slotsPerMap more buffers, falling back to the Go
// heap if the kernel refuses the mapping.
func grow(free [][]byte) [][]byte {
	m, err := unix.Mmap(-1, 0, slotsPerMap*BufferSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		return append(free, make([]byte, BufferSize))
	}
	for i := slotsPerMap - 1; i >= 0; i-- {
		free = append(free, m[i*BufferSize:(i+1)*BufferSize:(i+1)*BufferSize])
	}
	return free
}

var pageSize = os.Getpagesize()

// release wipes b and hands the pages that lie wholly inside it back to
// the kernel (they read as zeros afterwards); the partial pages at its
// ends, shared with the neighbouring buffers, are zeroed by hand.
func release(b []byte) {
	start := 0
	if r := addr(b) % uintptr(pageSize); r != 0 {
		start = pageSize - int(r)
	}
	end := start + (len(b)-start)/pageSize*pageSize
	if end-start >= pageSize && unix.Madvise(b[start:end], unix.MADV_DONTNEED) == nil {
		clear(b[:start])
		clear(b[end:])
		return
	}
	clear(b)
}

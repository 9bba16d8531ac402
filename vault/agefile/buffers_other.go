//go:build !linux

package agefile

func grow(free [][]byte) [][]byte { return append(free, make([]byte, BufferSize)) }

func release(b []byte) { clear(b) }

//go:build !linux

package vault

import "os"

// writev appends a and then b to f (two writes where writev is missing).
func writev(f *os.File, a, b []byte) (int, error) {
	n, err := f.Write(a)
	if err != nil || len(b) == 0 {
		return n, err
	}
	m, err := f.Write(b)
	return n + m, err
}

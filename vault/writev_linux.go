package vault

import (
	"os"

	"golang.org/x/sys/unix"
)

// writev appends a and then b to f in one system call (b may be nil).
func writev(f *os.File, a, b []byte) (int, error) {
	if len(b) == 0 {
		return f.Write(a)
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int
	var werr error
	iov := [][]byte{a, b}
	err = rc.Write(func(fd uintptr) bool {
		for {
			var k int
			k, werr = unix.Writev(int(fd), iov)
			if werr == unix.EINTR {
				continue
			}
			if werr != nil || k <= 0 {
				return true
			}
			n += k
			// A regular file takes all of it unless the disk is full; go
			// on with what is left, to get that error.
			for len(iov) > 0 && k >= len(iov[0]) {
				k -= len(iov[0])
				iov = iov[1:]
			}
			if len(iov) == 0 {
				return true
			}
			iov[0] = iov[0][k:]
		}
	})
	if werr != nil {
		return n, &os.PathError{Op: "write", Path: f.Name(), Err: werr}
	}
	return n, err
}

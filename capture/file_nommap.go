//go:build !linux

package capture

import (
	"os"
	"time"
)

// mappedPcap is the mapped reader of Linux; elsewhere files are read
// through a buffer.
type mappedPcap struct{}

func mapPcap(*os.File) (*mappedPcap, bool, error)    { return nil, false, nil }
func (*mappedPcap) next() ([]byte, time.Time, error) { panic("unreachable") }
func (*mappedPcap) close()                           {}

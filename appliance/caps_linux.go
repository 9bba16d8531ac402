package appliance

import (
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// dropCapabilities clears every capability of every thread and forbids
// regaining them. The process keeps uid 0, so it still owns its 0600
// files (vault, keys) and can write the LED, but it can no longer open
// raw sockets, bypass file permissions, load modules or change the
// network: a compromise of the parsers is contained. The capture and
// listening sockets are already open.
func dropCapabilities() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	// capset applies per thread; AllThreadsSyscall applies it to all of
	// the Go runtime's threads (possible because cgo is off).
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0); e != 0 {
		return fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", e)
	}
	for c := 0; c <= unix.CAP_LAST_CAP; c++ {
		if _, _, e := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, uintptr(c), 0); e != 0 && e != unix.EINVAL {
			return fmt.Errorf("prctl(PR_CAPBSET_DROP, %d): %w", c, e)
		}
	}
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		return fmt.Errorf("capset: %w", e)
	}
	return nil
}

// setNice sets the scheduling priority of every thread of the process
// (threads made later inherit it from the thread that makes them). A
// negative value needs CAP_SYS_NICE: call it before dropCapabilities.
func setNice(nice int) error {
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_SETPRIORITY, unix.PRIO_PROCESS, 0, uintptr(nice)); e != 0 {
		return fmt.Errorf("setpriority(%d): %w", nice, e)
	}
	return nil
}

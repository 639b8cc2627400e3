package executor

import (
	"syscall"
	"unsafe"
)

// waitid(2) constants, which package syscall does not export.
const (
	waitPID     = 1         // P_PID
	waitExited  = 0x4       // WEXITED
	waitNoReap  = 0x1000000 // WNOWAIT
	siginfoSize = 128
)

// waitExitedNoReap blocks until process pid has exited, leaving it a zombie
// so that its pid stays reserved until it is reaped.
func waitExitedNoReap(pid int) error {
	var info [siginfoSize]byte
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, waitPID, uintptr(pid),
			uintptr(unsafe.Pointer(&info[0])), waitExited|waitNoReap, 0, 0)
		switch errno {
		case 0:
			return nil
		case syscall.EINTR:
			continue
		default:
			return errno
		}
	}
}
